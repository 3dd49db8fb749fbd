"""The scorer: hits@k and friends, artist entropy, significance tests."""
