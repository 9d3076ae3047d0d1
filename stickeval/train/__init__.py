"""Training: recipes, the original objective (golden-exact), curation, LoRA, resumable state, the loop.

from stickeval.train import load_recipe, train
recipe = load_recipe("sft-large", ["optimizer.lr=1e-4"])
result = train(recipe, "runs/large-sft", data_path="sft_data_embedded.pt")
"""

from stickeval.train.objective import compute_loss, make_batch
from stickeval.train.recipe import Recipe, list_recipes, load_recipe, recipe_path
from stickeval.train.trainer import Evaluator, TrainEvent, TrainResult, train

__all__ = [
    "Evaluator",
    "Recipe",
    "TrainEvent",
    "TrainResult",
    "compute_loss",
    "list_recipes",
    "load_recipe",
    "make_batch",
    "recipe_path",
    "train",
]
