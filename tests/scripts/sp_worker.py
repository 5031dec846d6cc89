"""Under torchrun: one packed micro-batch through the tiny model with sequence parallelism over all ranks.
Rank 0 saves (torch.save) the loss and every gradient summed over the ranks, for each reduction."""

import sys

import torch
import torch.distributed as dist

from tests.sp_utils import full_gradients, sum_over_ranks


def main(out_path: str) -> None:
    dist.init_process_group("gloo")
    result = sum_over_ranks(full_gradients(dist.get_rank(), dist.get_world_size(),
                                           dist.new_group(list(range(dist.get_world_size())))))
    if dist.get_rank() == 0:
        torch.save(result, out_path)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
