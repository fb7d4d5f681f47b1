"""The architecture documents in architectures/ are what the code builds."""

from pathlib import Path

from bidirectional_infogan import architecture

ROOT = Path(__file__).resolve().parents[1]


def test_mnist_document_matches_code():
    committed = (ROOT / "architectures" / "mnist.md").read_text()
    assert committed == architecture.mnist_document(), (
        "architectures/mnist.md is out of date: regenerate it with "
        "`cd code && python -m bidirectional_infogan.architecture mnist > ../architectures/mnist.md`")


def test_document_rows_follow_table_1():
    from bidirectional_infogan.config import mnist_model_config
    from bidirectional_infogan.networks import build_discriminator, build_generator
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
