"""Sites (publications) and stories (articles)."""
