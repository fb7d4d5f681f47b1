"""The architecture documents in architectures/ are what the code builds, and the built networks are the
paper's tables (transcribed here by hand, with the project's resolutions of table 2's contradictions). Their
initialisation is checked in test_architecture_initialisation.py; the networks of both files are conftest's
table1_networks and table2_networks."""

from collections import defaultdict
from pathlib import Path

import keras

from bidirectional_infogan import architecture
from bidirectional_infogan.model.config import mnist_model_config, table2_model_config
from bidirectional_infogan.model.networks import build_discriminator, build_generator

ROOT = Path(__file__).resolve().parents[1]


def test_mnist_document_matches_code():
    committed = (ROOT / "architectures" / "mnist.md").read_text()
    assert committed == architecture.mnist_document(), (
        "architectures/mnist.md is out of date: regenerate it with "
        "`cd code && python -m bidirectional_infogan.architecture mnist > ../architectures/mnist.md`")


def test_document_rows_follow_table_1():
    cfg = mnist_model_config()
    g_rows = architecture.describe(build_generator(cfg))
    assert [(r["operation"], r["kernel"], r["stride"], r["maps / units"], r["BN"], r["activation"])
            for r in g_rows] == [("dense", "", "", "3136", "yes", "ELU"),
                                 ("transposed conv", "4x4", "2", "128", "yes", "ELU"),
                                 ("transposed conv", "4x4", "1", "64", "yes", "ELU"),
                                 ("transposed conv", "4x4", "2", "1", "no", "sigmoid")]
    d_rows = architecture.describe(build_discriminator(cfg))
    assert [r["layer"] for r in d_rows] == ["d_x_conv0", "d_x_conv1", "d_x_dense0", "d_z_conv0", "d_z_conv1",
                                            "d_z_dense0", "d_joint_dense0", "d_output"]
    assert [r["noise"] for r in d_rows] == ["N(0, 0.3)", "N(0, 0.5)", "N(0, 0.5)", "N(0, 0.3)", "N(0, 0.5)",
                                            "N(0, 0.5)", "N(0, 0.5)", ""]


def test_table2_document_matches_code():
    committed = (ROOT / "architectures" / "table2.md").read_text()
    assert committed == architecture.table2_document(), (
        "architectures/table2.md is out of date: regenerate it with "
        "`cd code && python -m bidirectional_infogan.architecture table2 > ../architectures/table2.md`")
    for resolution in ("108", "2, 2, 2, 2, 1, 1", "no noise"):
        assert resolution in committed


# ---------------------------------------------------------------------------------------------------------
# The built networks against the paper's tables, transcribed by hand from the supplementary material (as
# summarised in ../shared/reference/architectures.md next to the project, tables 1 and 2), read off the
# Keras layers and the graph that connects them: nothing below goes through architecture.describe, the
# layer names or the architecture documents.
#
# One row per weight layer, as the paper prints it, plus the output shape it leaves:
#   (operation, kernel, stride, maps / units, BN, activation, noise, output)
# "BN" is "yes" when a batch normalisation follows the layer; "activation" is the activation layer that
# follows (ELU) or, for an output layer without batch norm, the layer's own activation; "noise" is the
# Gaussian noise added after the activation. A "reshape" row is a Reshape layer. Flatten layers are not
# printed in the tables and are passed over (the output shapes of the dense rows still pin them down).
# The output shapes are not printed in the tables: they follow from the printed kernels and strides with the
# original code's padding (VALID for the convolutions of E and D, SAME for G's transposed convolutions;
# ../shared/reference/original-behaviour.md, "Networks (MNIST)"): VALID gives floor((n - k) / s) + 1,
# SAME n * s.

N03, N05 = "N(0, 0.3)", "N(0, 0.5)"

# Table 1 (MNIST, 28x28x1; z 16, one categorical variable with 10 values, 2 continuous)
TABLE1_G_INPUT = 28  # printed "input 1x1x28"; a dense layer on 1x1x28 is one on the flat 28 values
TABLE1_G = [
    ("dense", "", "", "3136", "yes", "ELU", "", "3136"),
    ("reshape", "", "", "", "", "", "", "7x7x64"),
    ("transposed conv", "4x4", "2", "128", "yes", "ELU", "", "14x14x128"),
    ("transposed conv", "4x4", "1", "64", "yes", "ELU", "", "14x14x64"),
    ("transposed conv", "4x4", "2", "1", "no", "sigmoid", "", "28x28x1"),
]
TABLE1_E = [  # input 28x28x1
    ("conv", "3x3", "1", "32", "yes", "ELU", "", "26x26x32"),
    ("conv", "3x3", "2", "64", "yes", "ELU", "", "12x12x64"),
    ("conv", "3x3", "2", "128", "yes", "ELU", "", "5x5x128"),
    ("dense", "", "", "1024", "yes", "ELU", "", "1024"),
]
TABLE1_E_OUTPUTS = [  # in the order E's output concatenates them (original-behaviour.md: z, c_cat, c_cont)
    ("dense", "", "", "16", "no", "tanh", "", "16"),       # output z
    ("dense", "", "", "10", "no", "softmax", "", "10"),    # output c_cat
    ("dense", "", "", "2", "no", "linear", "", "2"),       # output c_cont
]
TABLE1_D_X = [  # D(x), input 28x28x1
    ("conv", "3x3", "2", "64", "yes", "ELU", N03, "13x13x64"),
    ("conv", "3x3", "2", "128", "yes", "ELU", N05, "6x6x128"),
    ("dense", "", "", "512", "yes", "ELU", N05, "512"),
]
TABLE1_D_Z = [  # D(Z), input 1x1x28: the latent vector reshaped (original-behaviour.md)
    ("reshape", "", "", "", "", "", "", "1x1x28"),
    ("conv", "1x1", "1", "64", "yes", "ELU", N03, "1x1x64"),
    ("conv", "1x1", "1", "128", "yes", "ELU", N05, "1x1x128"),
    ("dense", "", "", "512", "yes", "ELU", N05, "512"),
]
TABLE1_D_JOINT_INPUT = "1024"  # D(x,Z), input 1024: concat of D(x) and D(Z)
TABLE1_D_JOINT = [
    ("dense", "", "", "1024", "yes", "ELU", N05, "1024"),
    ("dense", "", "", "1", "no", "sigmoid", "", "1"),
]

# Table 2 (CelebA and SVHN, 32x32x3; z 64, four categorical variables with 10 values, 4 continuous).
# Where the printed table contradicts itself, the project's resolution (architectures/table2.md, "Notes";
# shared/reference/architectures.md, "Where table 2 contradicts itself") is written in, marked RESOLVED.
# RESOLVED latent size: printed "input 1x1x98" for G and D(Z), but E's outputs add up to 64 + 4 x 10 + 4 = 108.
TABLE2_LATENT = 108
TABLE2_G = [
    ("dense", "", "", "2048", "yes", "ELU", "", "2048"),
    ("reshape", "", "", "", "", "", "", "2x2x512"),
    ("transposed conv", "5x5", "2", "512", "yes", "ELU", "", "4x4x512"),
    ("transposed conv", "5x5", "2", "256", "yes", "ELU", "", "8x8x256"),
    # RESOLVED G's strides: printed 2, 2, 1, 1, 1, 1, which ends at 8x8; the project uses 2, 2, 2, 2, 1, 1
    ("transposed conv", "5x5", "2", "128", "yes", "ELU", "", "16x16x128"),  # printed stride 1
    ("transposed conv", "5x5", "2", "64", "yes", "ELU", "", "32x32x64"),    # printed stride 1
    ("transposed conv", "5x5", "1", "32", "yes", "ELU", "", "32x32x32"),
    ("transposed conv", "4x4", "1", "3", "no", "sigmoid", "", "32x32x3"),
]
TABLE2_E = [  # input 32x32x3
    ("conv", "3x3", "1", "32", "yes", "ELU", "", "30x30x32"),
    ("conv", "3x3", "2", "64", "yes", "ELU", "", "14x14x64"),
    ("conv", "3x3", "1", "128", "yes", "ELU", "", "12x12x128"),
    ("conv", "3x3", "2", "256", "yes", "ELU", "", "5x5x256"),
    ("conv", "3x3", "2", "512", "yes", "ELU", "", "2x2x512"),
    ("dense", "", "", "1024", "yes", "ELU", "", "1024"),
]
TABLE2_E_OUTPUTS = [
    ("dense", "", "", "64", "no", "tanh", "", "64"),  # output z
    # output c_cat: printed "4 x 10, softmax (per variable)": one dense layer of 10 per variable
    # (architectures/table2.md: "E's categorical head is one softmax per variable")
    *[("dense", "", "", "10", "no", "softmax", "", "10")] * 4,
    ("dense", "", "", "4", "no", "linear", "", "4"),  # output c_cont
]
# RESOLVED noise: table 2 has no noise column; the project's default is no noise in D (architectures/table2.md)
TABLE2_D_X = [  # D(x), input 32x32x3
    ("conv", "4x4", "2", "64", "yes", "ELU", "", "15x15x64"),
    ("conv", "4x4", "2", "128", "yes", "ELU", "", "6x6x128"),
    ("conv", "4x4", "2", "256", "yes", "ELU", "", "2x2x256"),
    ("dense", "", "", "1024", "yes", "ELU", "", "1024"),
]
TABLE2_D_Z = [  # D(Z), input 1x1x108 (RESOLVED: printed 1x1x98)
    ("reshape", "", "", "", "", "", "", "1x1x108"),
    ("conv", "1x1", "1", "64", "yes", "ELU", "", "1x1x64"),
    ("conv", "1x1", "1", "128", "yes", "ELU", "", "1x1x128"),
    ("conv", "1x1", "1", "256", "yes", "ELU", "", "1x1x256"),
    ("dense", "", "", "1024", "yes", "ELU", "", "1024"),
]
TABLE2_D_JOINT_INPUT = "2048"  # D(x,Z), input 2048: concat
TABLE2_D_JOINT = [
    ("dense", "", "", "1024", "yes", "ELU", "", "1024"),
    ("dense", "", "", "1", "no", "sigmoid", "", "1"),
]

WEIGHT_LAYERS = (keras.layers.Conv2DTranspose, keras.layers.Conv2D, keras.layers.Dense)
ACTIVATION_LAYERS = {keras.layers.ELU: "ELU", keras.layers.ReLU: "ReLU", keras.layers.LeakyReLU: "leaky ReLU"}


def _shape(tensor) -> str:
    return "x".join(str(d) for d in tensor.shape[1:])


class Graph:
    """Which layers read each tensor of a functional model, so that a chain can be followed from an input."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.readers = defaultdict(list)
        for layer in model.layers:
            for tensor in keras.tree.flatten(layer.input):
                self.readers[id(tensor)].append(layer)
        self.writer = {id(layer.output): layer for layer in model.layers}

    def reader(self, tensor):
        """The one layer that reads `tensor`, or None at a fork (several readers) or at the model's output."""
        readers = self.readers[id(tensor)]
        return readers[0] if len(readers) == 1 else None

    def block(self, layer):
        """A weight layer and the batch norm, activation and noise that follow it, in that order:
        (row, weight layer, batch norm layer or None, output tensor)."""
        tensor, bn, activation, noise = layer.output, None, None, None
        nxt = self.reader(tensor)
        if isinstance(nxt, keras.layers.BatchNormalization):
            bn, tensor, nxt = nxt, nxt.output, self.reader(nxt.output)
        if type(nxt) in ACTIVATION_LAYERS:
            activation, tensor, nxt = nxt, nxt.output, self.reader(nxt.output)
        if isinstance(nxt, keras.layers.GaussianNoise):
            noise, tensor = nxt, nxt.output
        own = layer.activation.__name__
        if activation is None:
            act_name = own
        else:
            act_name = ACTIVATION_LAYERS[type(activation)] if own == "linear" else f"{own} then {activation}"
            if isinstance(activation, keras.layers.ELU):
                assert activation.alpha == 1.0, layer.name  # tf.nn.elu, as the original
        conv = not isinstance(layer, keras.layers.Dense)
        row = ("transposed conv" if isinstance(layer, keras.layers.Conv2DTranspose) else
               "conv" if conv else "dense",
               "x".join(map(str, layer.kernel_size)) if conv else "",
               str(layer.strides[0]) if conv else "",
               str(layer.filters if conv else layer.units),
               "yes" if bn else "no", act_name,
               f"N(0, {noise.stddev})" if noise else "",
               _shape(tensor))
        if conv:
            assert layer.strides[0] == layer.strides[1] and layer.dilation_rate == (1, 1), layer.name
        return row, layer, bn, tensor

    def chain(self, tensor):
        """Follow the one path from `tensor` until a fork, a Concatenate or the output:
        (rows, [(weight layer, batch norm)...], the last tensor, the layer that stopped the walk)."""
        rows, layers = [], []
        while True:
            layer = self.reader(tensor)
            if layer is None or isinstance(layer, keras.layers.Concatenate):
                return rows, layers, tensor, layer
            if isinstance(layer, keras.layers.Flatten):
                tensor = layer.output
            elif isinstance(layer, keras.layers.Reshape):
                rows.append(("reshape", "", "", "", "", "", "", _shape(layer.output)))
                tensor = layer.output
            elif isinstance(layer, WEIGHT_LAYERS):
                row, weights, bn, tensor = self.block(layer)
                rows.append(row)
                layers.append((weights, bn))
            else:
                raise AssertionError(f"unexpected {type(layer).__name__} {layer.name} in a chain")


def check_layer_settings(layers, padding):
    """What the original code adds to the tables (original-behaviour.md): the padding, a bias on every
    layer, TF1 contrib batch_norm with decay 0.999, epsilon 0.001, centre and scale on."""
    for layer, bn in layers:
        assert layer.use_bias, layer.name
        if not isinstance(layer, keras.layers.Dense):
            assert layer.padding == padding, layer.name
        if bn is not None:
            assert (bn.momentum, bn.epsilon, bn.center, bn.scale) == (0.999, 1e-3, True, True), bn.name


def generator_rows(model):
    graph = Graph(model)
    (latent,) = model.inputs
    rows, layers, end, stop = graph.chain(latent)
    assert stop is None and end is model.outputs[0]
    check_layer_settings(layers, "same")
    return _shape(latent), rows, layers


def encoder_rows(model):
    """(input shape, hidden rows, output rows in the order of E's output, output size, layers)."""
    graph = Graph(model)
    (image,) = model.inputs
    rows, layers, fork, stop = graph.chain(image)
    assert stop is None  # the heads fork here
    concat = graph.writer[id(model.outputs[0])]
    assert isinstance(concat, keras.layers.Concatenate) and concat.axis in (-1, 1)
    heads = []
    for tensor in concat.input:
        head = graph.writer[id(tensor)]
        assert isinstance(head, keras.layers.Dense) and head.input is fork, head.name
        row, weights, bn, out = graph.block(head)
        assert out is tensor
        heads.append(row)
        layers.append((weights, bn))
    assert len(graph.readers[id(fork)]) == len(heads)  # every head reaches the output
    check_layer_settings(layers, "valid")
    return _shape(image), rows, heads, _shape(model.outputs[0]), layers


def discriminator_rows(model):
    """(image input, latent input, D(x) rows, D(Z) rows, joint input, joint rows, layers)."""
    graph = Graph(model)
    image, latent = model.inputs
    x_rows, x_layers, x_end, x_stop = graph.chain(image)
    z_rows, z_layers, z_end, z_stop = graph.chain(latent)
    assert isinstance(x_stop, keras.layers.Concatenate) and x_stop is z_stop
    assert [t is e for t, e in zip(x_stop.input, (x_end, z_end))] == [True, True]  # concat(D(x), D(Z))
    joint_rows, joint_layers, end, stop = graph.chain(x_stop.output)
    assert stop is None and end is model.outputs[0]
    layers = x_layers + z_layers + joint_layers
    check_layer_settings(layers, "valid")
    return _shape(image), _shape(latent), x_rows, z_rows, _shape(x_stop.output), joint_rows, layers


def test_generator_is_table_1(table1_networks):
    latent, rows, _ = generator_rows(table1_networks[0])
    assert latent == str(TABLE1_G_INPUT)
    assert rows == TABLE1_G


def test_encoder_is_table_1(table1_networks):
    image, rows, heads, output, _ = encoder_rows(table1_networks[1])
    assert image == "28x28x1"
    assert rows == TABLE1_E
    assert heads == TABLE1_E_OUTPUTS
    assert output == "28"  # 16 + 10 + 2, the latent layout G reads


def test_discriminator_is_table_1(table1_networks):
    image, latent, x_rows, z_rows, joint_input, joint_rows, _ = discriminator_rows(table1_networks[2])
    assert (image, latent) == ("28x28x1", "28")
    assert x_rows == TABLE1_D_X
    assert z_rows == TABLE1_D_Z
    assert joint_input == TABLE1_D_JOINT_INPUT
    assert joint_rows == TABLE1_D_JOINT


def test_generator_is_table_2(table2_networks):
    latent, rows, _ = generator_rows(table2_networks[0])
    assert latent == str(TABLE2_LATENT)
    assert rows == TABLE2_G


def test_encoder_is_table_2(table2_networks):
    image, rows, heads, output, _ = encoder_rows(table2_networks[1])
    assert image == "32x32x3"
    assert rows == TABLE2_E
    assert heads == TABLE2_E_OUTPUTS
    assert output == str(TABLE2_LATENT)


def test_discriminator_is_table_2(table2_networks):
    image, latent, x_rows, z_rows, joint_input, joint_rows, _ = discriminator_rows(table2_networks[2])
    assert (image, latent) == ("32x32x3", str(TABLE2_LATENT))
    assert x_rows == TABLE2_D_X
    assert z_rows == TABLE2_D_Z
    assert joint_input == TABLE2_D_JOINT_INPUT
    assert joint_rows == TABLE2_D_JOINT


def test_table_2_noise_flag_gives_table_1_noise():
    """architectures/table2.md: --d_noise adds table 1's noise, 0.3 after the first layer of each branch and
    0.5 after every other hidden layer; the rows are otherwise table 2's."""
    _, _, x_rows, z_rows, _, joint_rows, _ = discriminator_rows(
        build_discriminator(table2_model_config("svhn", d_noise=True)))

    def with_noise(rows, first_row):
        noises = [N03 if i == first_row else N05 for i in range(len(rows))]
        return [row[:6] + (noise if row[4] == "yes" else "",) + row[7:] for row, noise in zip(rows, noises)]

    assert x_rows == with_noise(TABLE2_D_X, 0)
    assert z_rows == with_noise(TABLE2_D_Z, 1)  # row 0 is the reshape
    assert joint_rows == with_noise(TABLE2_D_JOINT, None)
    assert joint_rows[-1][6] == ""  # none on the output
