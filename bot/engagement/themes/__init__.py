"""Themes in what residents say, found offline: language-aware tokens, vectors and clustering."""
