"""Train Bidirectional-InfoGAN on CelebA with the paper's settings (table 2); see --help."""

import argparse
import sys

from bidirectional_infogan import cli
from bidirectional_infogan.data import celeba
from bidirectional_infogan.data.common import DataError, TrainingData


def crop_argument(text):
    try:
        celeba.parse_crop(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_arguments(parser):
    group = parser.add_argument_group("CelebA")
    group.add_argument("--crop", type=crop_argument,
                       help="face crop in the 178x218 aligned images before resizing to 32x32: the side of a "
                            "centred square, or left,top,right,bottom (default 108 = the box 35,55,143,163)")
    group.add_argument("--cache_dir", help="where the cropped and resized images are cached (default "
                                           f"{celeba.default_cache_dir()})")


def load_data(options, validation_size):
    if options["data_dir"] is None:
        # CelebA's terms ask each user to download it themselves: no download cache as for MNIST and SVHN
        raise DataError(f"pass --data_dir, the folder holding {celeba.IMAGE_ZIP} (or the extracted "
                        f"{celeba.IMAGE_DIR}/ folder), {celeba.PARTITION_FILE} and {celeba.ATTRIBUTE_FILE} from "
                        f"{celeba.URL} (\"Align&Cropped Images\"); CelebA is not downloaded for you: its terms "
                        f"ask each user to fetch it")
    data = celeba.load_celeba(options["data_dir"], crop=celeba.parse_crop(options["crop"]), size=32,
                              cache_dir=options["cache_dir"])
    return TrainingData(train_images=data.train.images, validation_images=data.validation.images[:validation_size])


SCRIPT = cli.TrainingScript(
    dataset="celeba",
    description="Train Bidirectional-InfoGAN on CelebA (aligned faces, cropped and resized to 32x32). Every "
                "default reproduces the paper: table 2 networks, z 64, four categorical variables with 10 "
                "values, 4 continuous, batch 32, Adam lr 1e-4 and beta1 0.5 for D, G and E, 500,000 iterations.",
    defaults=dict(cli.TABLE2_DEFAULTS, max_iter=500000, crop=str(celeba.DEFAULT_CROP), cache_dir=None),
    build_model_config=lambda flags: cli.table2_model_config_from_flags("celeba", flags),
    load_data=load_data,
    data_options=lambda flags: {"data_dir": flags["data_dir"], "crop": flags["crop"],
                                "cache_dir": flags["cache_dir"]},
    add_arguments=lambda parser: (cli.add_table2_arguments(parser, SCRIPT.defaults), add_arguments(parser)),
    data_dir_help="folder with img_align_celeba.zip (or the extracted img_align_celeba/) and "
                  "list_eval_partition.txt (required for a new run)",
    epilog=f"--data_dir must hold img_align_celeba.zip, unextracted, or the img_align_celeba/ folder it "
           f"extracts to, and list_eval_partition.txt (\"Align&Cropped Images\" of {celeba.URL}; its terms ask "
           "each user to download it, so it is not downloaded for you); list_attr_celeba.txt is used by "
           "evaluate_model.py. The first run crops and resizes "
           "every image once into the cache (a few minutes); later runs read the cache. The figures use the "
           "first 5,000 images of the validation partition.\n"
           "Watch a run with: tensorboard --logdir log_dir/celeba",
)

if __name__ == "__main__":
    sys.exit(cli.main(SCRIPT))
