"""jaxcodesign.models: Flax networks from design points, data, training and accuracy oracles.

* :mod:`.flexibert`: ``FlexiBERT`` (hetero FlexiBERT 2.0 encoder), ``flexibert_param_count``;
* :mod:`.cnnbench`: ``build_cnn`` / ``CNNBenchNet`` (semantics of ``spaces.cnnbench.infer_shapes``);
* :mod:`.data`: ``load_digits_dataset``, ``load_npz``, ``load_dataset``, ``Dataset``;
* :mod:`.train`: ``TrainConfig``, ``train_model``;
* :mod:`.oracles`: ``TrainingOracle``, ``TableOracle`` (Evaluators);
* :mod:`.transfer`: ``transfer_variables``, ``nearest_neighbour`` (weight transfer).
"""

from jaxcodesign.models.cnnbench import CNNBenchNet, build_cnn, cnn_cost
from jaxcodesign.models.data import Dataset, load_dataset, load_digits_dataset, load_npz
from jaxcodesign.models.flexibert import FlexiBERT, flexibert_param_count, model_macs
from jaxcodesign.models.oracles import TableOracle, TrainingOracle, hetero_to_small
from jaxcodesign.models.train import TrainConfig, count_params, train_model
from jaxcodesign.models.transfer import nearest_neighbour, prefix_length, transfer_variables

__all__ = [
    "CNNBenchNet", "build_cnn", "cnn_cost", "Dataset", "load_dataset", "load_digits_dataset", "load_npz",
    "FlexiBERT", "flexibert_param_count", "model_macs", "TableOracle", "TrainingOracle", "hetero_to_small",
    "TrainConfig", "count_params", "train_model", "nearest_neighbour", "prefix_length", "transfer_variables",
]
