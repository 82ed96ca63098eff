"""The ``llmspell`` command-line interface (click + rich)."""
