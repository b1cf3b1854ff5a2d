"""Data of the leaderboard: ``paper_table4.json``, the paper's reported rows with their source."""
