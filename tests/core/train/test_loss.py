import pytest
import torch
import torch.nn.functional as F

from core.data.chat import IGNORE_INDEX
from core.train.loss import channel_sums, loss_weights, token_losses, weighted_loss


def random_batch(seed=0, samples=6, vocab=50, hidden=16):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (samples,), generator=g).tolist()
    total = sum(lengths)
    h = torch.randn(total, hidden, generator=g, requires_grad=True)
    head = torch.nn.Linear(hidden, vocab, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.randn(vocab, hidden, generator=g))
    targets = torch.randint(0, vocab, (total,), generator=g)
    targets[torch.rand(total, generator=g) < 0.4] = IGNORE_INDEX
    token_sample = torch.repeat_interleave(torch.arange(samples), torch.tensor(lengths))
    return h, head, targets, token_sample, lengths


def test_chunked_equals_unchunked_losses_and_gradients():
    h, head, targets, _, _ = random_batch()
    full = token_losses(h, targets, head, chunk_size=0)
    grad_full = torch.autograd.grad(full.sum(), [h, head.weight])
    chunked = token_losses(h, targets, head, chunk_size=7)
    grad_chunked = torch.autograd.grad(chunked.sum(), [h, head.weight])
    reference = F.cross_entropy(head(h), targets, ignore_index=IGNORE_INDEX, reduction="none")
    assert torch.allclose(full, reference, atol=1e-6) and torch.allclose(chunked, reference, atol=1e-6)
    for a, b in zip(grad_full, grad_chunked):
        assert torch.allclose(a, b, atol=1e-6)


def test_token_and_sample_means_equal_direct_reference():
    h, head, targets, token_sample, lengths = random_batch(seed=4)
    losses = token_losses(h, targets, head).detach()
    trained = targets != IGNORE_INDEX
    per_sample_counts = torch.zeros(len(lengths)).index_add_(0, token_sample, trained.float())
    n_tokens, n_samples = int(trained.sum()), int((per_sample_counts > 0).sum())

    token = weighted_loss(losses, loss_weights(token_sample, trained, per_sample_counts, "token", n_tokens, n_samples))
    assert torch.allclose(token, losses[trained].mean(), atol=1e-6)

    sample = weighted_loss(losses, loss_weights(token_sample, trained, per_sample_counts, "sample", n_tokens, n_samples))
    means = [losses[(token_sample == s) & trained].mean() for s in range(len(lengths)) if per_sample_counts[s] > 0]
    assert torch.allclose(sample, torch.stack(means).mean(), atol=1e-6)
    assert not torch.allclose(token, sample)  # the two reductions really differ here


def test_split_batches_sum_to_the_global_mean():
    """Partial losses of disjoint parts with global denominators add up to the global mean exactly."""
    h, head, targets, token_sample, lengths = random_batch(seed=7)
    losses = token_losses(h, targets, head).detach()
    trained = targets != IGNORE_INDEX
    counts = torch.zeros(len(lengths)).index_add_(0, token_sample, trained.float())
    n_tok, n_smp = int(trained.sum()), int((counts > 0).sum())
    for reduction in ("token", "sample"):
        whole = weighted_loss(losses, loss_weights(token_sample, trained, counts, reduction, n_tok, n_smp))
        cut = len(losses) // 3  # cuts through the middle of a sample
        parts = sum(
            weighted_loss(losses[a:b], loss_weights(token_sample[a:b], trained[a:b], counts, reduction, n_tok, n_smp))
            for a, b in [(0, cut), (cut, len(losses))]
        )
        assert torch.allclose(whole, parts, atol=1e-6)


def test_channel_sums():
    losses = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    trained = torch.tensor([True, True, False, True, True])
    channel = torch.tensor([0, 1, 1, 1, 0])
    sums, counts = channel_sums(losses, trained, channel, 3)
    assert sums.tolist() == [6.0, 6.0, 0.0] and counts.tolist() == [2.0, 2.0, 0.0]


# --- the output projection runs over trained positions only -------------------------------------------------


def test_trained_positions_only_equals_all_positions_losses_and_gradients():
    for chunk in (0, 7):
        h, head, targets, _, _ = random_batch(seed=3)
        weights = torch.rand(len(targets), generator=torch.Generator().manual_seed(1))
        results = []
        for only_trained in (True, False):
            losses = token_losses(h, targets, head, chunk_size=chunk, only_trained=only_trained)
            grads = torch.autograd.grad((losses * weights).sum(), [h, head.weight])
            results.append((losses.detach(), grads))
        (new, new_grads), (old, old_grads) = results
        assert new.shape == old.shape and (new[targets == IGNORE_INDEX] == 0).all()
        assert (new - old).abs().max() <= 1e-6
        for a, b in zip(new_grads, old_grads):
            assert (a - b).abs().max() <= 1e-6


def test_output_projection_sees_only_trained_rows():
    h, head, targets, _, _ = random_batch(seed=5)
    rows = []
    hook = head.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    token_losses(h, targets, head, chunk_size=0)
    assert rows == [int((targets != IGNORE_INDEX).sum())] and rows[0] < len(targets)
    rows.clear()
    token_losses(h, targets, head, chunk_size=0, only_trained=False)  # the reference scores every position
    hook.remove()
    assert rows == [len(targets)]


def test_no_trained_position_gives_zero_loss_and_keeps_the_head_in_the_graph():
    h, head, targets, _, _ = random_batch(seed=6)
    targets = torch.full_like(targets, IGNORE_INDEX)
    losses = token_losses(h, targets, head)
    assert (losses == 0).all() and losses.shape == targets.shape
    losses.sum().backward()
    assert head.weight.grad is not None and (head.weight.grad == 0).all()


def test_tiny_model_loss_and_every_gradient_equal_all_positions_for_both_reductions():
    from tests.sp_utils import full_gradients

    new, old = full_gradients(only_trained=True), full_gradients(only_trained=False)
    for reduction in ("token", "sample"):
        assert abs(new[reduction]["loss"].item() - old[reduction]["loss"].item()) <= 1e-6
        for name, expected in old[reduction]["grads"].items():
            assert (new[reduction]["grads"][name] - expected).abs().max().item() <= 1e-6, (reduction, name)


def _sp_worker(rank: int, size: int, port: int, out_path: str) -> None:
    import torch.distributed as dist

    from tests.sp_utils import full_gradients, sum_over_ranks

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    result = sum_over_ranks(full_gradients(rank, size, dist.new_group(list(range(size))), only_trained=True))
    if rank == 0:
        torch.save(result, out_path)
    dist.destroy_process_group()


@pytest.mark.slow
def test_sp2_trained_positions_only_equals_one_process_all_positions(tmp_path):
    """Each SP rank scores its own slice's trained positions; summed over ranks that is the one-process loss
    and gradients of the all-positions reference (boundaries and trained spans cross the slice border)."""
    import torch.multiprocessing as mp

    from tests.sp_utils import full_gradients
    from tests.trainer_utils import free_port

    out = str(tmp_path / "sp2.pt")
    mp.spawn(_sp_worker, args=(2, free_port(), out), nprocs=2, join=True)
    got, reference = torch.load(out), full_gradients(only_trained=False)
    for reduction in ("token", "sample"):
        assert abs(got[reduction]["loss"].item() - reference[reduction]["loss"].item()) <= 1e-6
        for name, expected in reference[reduction]["grads"].items():
            assert (got[reduction]["grads"][name] - expected).abs().max().item() <= 1e-6, (reduction, name)
