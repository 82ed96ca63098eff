"""``python -m llmspell`` runs the command-line interface."""

from llmspell.cli.main import main

if __name__ == "__main__":
    main()
