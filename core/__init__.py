"""sft-suites' shared core: everything the suites share, knowing nothing about any suite.

Wings, lowest first; a module imports only from its own wing, a lower one, or `core.errors`
(tests/test_layering.py enforces it): model < data < train < synth < curate < eval. `core.cli` (the
`sft` command) sits on top and only dispatches.
"""
