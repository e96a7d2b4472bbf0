"""The embeddable widget: its files and how they are served."""
