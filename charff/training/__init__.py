"""Training: the step (step), negatives, the optimizers (learner), the trainer loop, validation,
checkpoints and forks. Imports no analysis code; charff/run.py joins the two."""
