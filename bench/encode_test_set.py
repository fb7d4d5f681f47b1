"""Benchmark: seconds to encode the 10,000 MNIST test images with E in inference mode (target: under 3 s
on a 2-core CPU), for a few batch sizes.

    python bench/encode_test_set.py [--data_dir ../shared/data/mnist] [--model_dir RUN_DIR]

Without --model_dir the encoder has freshly initialised weights (the time does not depend on them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--model_dir", help="a trained MNIST run folder or an exported one such as "
                                            "pretrained/mnist (default: untrained weights)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from bidirectional_infogan.util.tf_setup import import_tensorflow
    import_tensorflow()
    from bidirectional_infogan.model.config import TrainConfig, mnist_model_config
    from bidirectional_infogan.data.mnist import load_mnist_test
    from bidirectional_infogan.model.gan import BidirectionalInfoGAN

    images = load_mnist_test(args.data_dir).images
    if args.model_dir:
        from bidirectional_infogan.evaluate.pretrained import load_model_folder
        model = load_model_folder(Path(args.model_dir))
    else:
        model = BidirectionalInfoGAN(mnist_model_config(), TrainConfig())
    for batch_size in (500, 1000, 2000, 5000):
        model.encode(images[:2 * batch_size], batch_size)  # trace and warm up this batch shape
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.encode(images, batch_size)
            times.append(time.perf_counter() - start)
        best, median = min(times), statistics.median(times)
        print(f"batch {batch_size:>5}: {median:.2f} s median, {best:.2f} s best for {len(images)} images "
              f"({len(images) / median:,.0f} images/s)")
    print("target: under 3 s")


if __name__ == "__main__":
    main()
