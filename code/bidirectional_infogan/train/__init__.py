"""Training: the training scripts' command line (cli), the loop (training) and what it logs (log_step)."""
