from core.train.cli import main

main()
