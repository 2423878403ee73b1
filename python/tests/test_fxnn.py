"""The Python package against the definitions (docs/number-system.md, docs/fixed-point-training.md):
torch.ops.fxnn.quantize equals a numpy transcription of eq. (5)-(9) bit for bit (ties, NaN, infinities,
saturation, auto ranges, stochastic rounding's counter-based hash), gradients are the straight-through
ones, plans read as fxnn reads them, and fixed-point SGD updates as the C++ optimizer does."""
import math
import os
import sys
import unittest

import numpy as np

try:
    import torch
    import yaml  # noqa: F401  (the plans)
except ImportError as e:  # python3-torch / python3-yaml missing: skipped (CTest reads 77)
    print(f"skipped: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fxnn  # noqa: E402

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MASK = (1 << 64) - 1


def uniform24(seed, n):
    """u_i of eq. (7): the top 24 bits of splitmix64(seed + (i + 1) * golden) times 2^-24."""
    u = np.empty(n)
    for i in range(n):
        z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        u[i] = (z >> 40) * 2.0 ** -24
    return u


def reference(x, text, rounding="nearest", scale=1.0, seed=0):
    """eq. (8)-(9) in numpy, in x's precision."""
    fmt = fxnn.Format.parse(text)
    x = np.asarray(x)
    dtype = x.dtype.type
    xs = x / dtype(scale) if scale != 1.0 else x
    frac = fmt.frac
    if fmt.auto_range:  # eq. (4)
        m = float(np.max(np.abs(xs))) if xs.size else 0.0
        log2r = math.floor(math.log2(m)) + 1 if m > 0 else 0
        frac = fmt.bits - (1 if fmt.signed else 0) - log2r
    with np.errstate(invalid="ignore"):
        y = xs * dtype(2.0 ** frac)
        f = np.floor(y)
        if rounding == "nearest":
            q = f + (y - f >= dtype(0.5))
        elif rounding == "floor":
            q = f
        else:
            q = f + (uniform24(seed, x.size).astype(x.dtype).reshape(x.shape) < (y - f))
        q = np.clip(q, dtype(fmt.code_min), dtype(fmt.code_max))
        values = q * dtype(2.0 ** -frac)
        return values * dtype(scale) if scale != 1.0 else values


def assert_same(test, got, want):
    got = got.detach().numpy()
    test.assertEqual(got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)  # NaN == NaN here, -0.0 == 0.0


class QuantizeMatchesTheDefinition(unittest.TestCase):
    EDGES = [0.5, -0.5, 1.5, -1.5, 0.49999997, 2.0 ** -25, 1e30, -1e30, math.inf, -math.inf, math.nan, 0.0, -0.0,
             127.0 / 128, -1.0, 0.99999994, 3.75, -3.875]

    def inputs(self, dtype):
        g = torch.Generator().manual_seed(1)
        random = torch.randn(5000, generator=g, dtype=dtype) * 3
        ties = torch.arange(-600, 600, dtype=dtype) / 256  # every multiple of 2^-8: ties for frac <= 7
        return torch.cat([random, ties, torch.tensor(self.EDGES, dtype=dtype)])

    def test_fixed_formats_every_rounding(self):
        for dtype in (torch.float32, torch.float64):
            x = self.inputs(dtype)
            for text in ("s8.7", "u8.7", "s4.2", "s3.-1", "u1.0", "s16.12", "s2.0"):
                for rounding in ("nearest", "floor", "stochastic"):
                    with self.subTest(dtype=dtype, format=text, rounding=rounding):
                        got = fxnn.quantize(x, text, rounding, seed=12345)
                        assert_same(self, got, reference(x.numpy(), text, rounding, seed=12345))

    def test_auto_ranges(self):
        for dtype in (torch.float32, torch.float64):
            x = self.inputs(dtype)[:6000]  # finite values only
            for text in ("s8.auto", "s16.auto", "u6.auto"):
                for data in (x, x * 1e-3, torch.zeros(7, dtype=dtype)):
                    with self.subTest(dtype=dtype, format=text):
                        assert_same(self, fxnn.quantize(data, text), reference(data.numpy(), text))

    def test_scaled_grids(self):
        x = self.inputs(torch.float32)
        for text, scale in (("s2.0", 0.0371), ("u2.0", 0.57), ("s4.2", 3.0)):
            with self.subTest(format=text, scale=scale):
                assert_same(self, fxnn.quantize(x, text, scale=scale), reference(x.numpy(), text, scale=scale))

    def test_layouts_and_shapes(self):
        x = torch.randn(64, 33).t()  # not contiguous
        assert_same(self, fxnn.quantize(x, "s8.5"), reference(x.contiguous().numpy(), "s8.5"))
        x4 = torch.randn(2, 3, 5, 5)
        self.assertEqual(fxnn.quantize(x4, "s8.5").shape, x4.shape)

    def test_stochastic_rounding_is_seeded_and_unbiased(self):
        x = torch.full((200000,), 0.3)
        a, b = fxnn.quantize(x, "s8.0", "stochastic", seed=7), fxnn.quantize(x, "s8.0", "stochastic", seed=7)
        self.assertTrue(torch.equal(a, b))
        self.assertFalse(torch.equal(a, fxnn.quantize(x, "s8.0", "stochastic", seed=8)))
        self.assertAlmostEqual(float(a.mean()), 0.3, delta=0.005)

    def test_bad_input_is_one_clear_error(self):
        with self.assertRaisesRegex(ValueError, "bad fixed-point format 's8.x'"):
            fxnn.quantize(torch.zeros(3), "s8.x")
        with self.assertRaisesRegex(ValueError, "unknown rounding"):
            fxnn.quantize(torch.zeros(3), "s8.7", "up")
        with self.assertRaisesRegex(ValueError, "scale must be positive"):
            fxnn.quantize(torch.zeros(3), "s8.7", scale=-1.0)
        with self.assertRaisesRegex(TypeError, "float32 or float64"):
            fxnn.quantize(torch.zeros(3, dtype=torch.int32), "s8.7")


class Gradients(unittest.TestCase):
    def test_quantize_is_straight_through_inside_the_range(self):
        x = torch.tensor([-3.0, -2.0, -0.125, 0.3, 1.75, 1.8, 5.0], requires_grad=True)
        fxnn.quantize(x, "s4.2").backward(torch.arange(1.0, 8.0))
        # s4.2: [min, max] = [-2, 1.75]; -3, 1.8 and 5 are outside.
        self.assertEqual(x.grad.tolist(), [0.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0])

    def test_scaled_range_and_auto_range(self):
        x = torch.tensor([-1.0, -0.46, 0.1, 0.31, 0.5], requires_grad=True)
        fxnn.quantize(x, "s2.0", scale=0.3).backward(torch.ones(5))
        self.assertEqual(x.grad.tolist(), [0.0, 1.0, 1.0, 0.0, 0.0])  # [-0.6, 0.3]
        y = torch.tensor([0.7, -1.5], requires_grad=True)  # s8.auto: r = 2, [-2, 2 - 2^-6]: both inside
        fxnn.quantize(y, "s8.auto").backward(torch.ones(2))
        self.assertEqual(y.grad.tolist(), [1.0, 1.0])

    def test_torch_autograd_gradcheck_of_the_straight_through_estimator(self):
        x = (torch.randn(50, dtype=torch.float64) * 0.5).requires_grad_()
        y = fxnn.quantize(x, "s8.7")
        g = torch.randn(50, dtype=torch.float64)
        (gx,) = torch.autograd.grad(y, x, g)
        inside = (x >= -1.0) & (x <= 127.0 / 128)
        self.assertTrue(torch.equal(gx, g * inside))

    def test_quantize_gradient_is_identity_forward_and_quantizes_backward(self):
        x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y = fxnn.quantize_gradient(x, "s4.2")
        self.assertTrue(torch.equal(y, x))
        y.backward(torch.tensor([0.1, -0.2, 0.375, 9.0]))
        self.assertEqual(x.grad.tolist(), [0.0, -0.25, 0.5, 1.75])


class Plans(unittest.TestCase):
    def test_the_plans_of_the_repository_read(self):
        plan = fxnn.PrecisionPlan.load(os.path.join(SOURCE, "configs", "plans", "uniform8.yaml"))
        self.assertEqual(str(plan.resolve("fc1", "W").format), "s8.7")
        self.assertTrue(plan.resolve("fc1", "GW").format.auto_range)

    def test_resolution_rounding_and_scale(self):
        plan = fxnn.PrecisionPlan.parse(
            "rounding: stochastic\ndefaults:\n  W: s8.7\n  GA: {format: s12.auto, rounding: nearest}\n"
            "layers:\n  fc2:\n    W: s12.11\n    A: float\n  'conv*':\n    W: {format: s2.0, scale: 0.0371}\n", "p.yaml")
        self.assertEqual(str(plan.resolve("fc1", "W").format), "s8.7")
        self.assertEqual(plan.resolve("fc1", "W").rounding, "stochastic")
        self.assertEqual(plan.resolve("fc1", "GA").rounding, "nearest")
        self.assertEqual(str(plan.resolve("fc2", "W").format), "s12.11")
        self.assertIsNone(plan.resolve("fc2", "A"))
        self.assertEqual(plan.resolve("conv3", "W").scale, 0.0371)
        self.assertIsNone(plan.resolve("fc1", "acc"))

    def test_errors_name_the_file_and_key(self):
        for text, message in (("defaults:\n  W: s8.x\n", "p.yaml: defaults.W: bad fixed-point format 's8.x'"),
                              ("defaults:\n  Q: s8.7\n", "p.yaml: defaults.Q: unknown tensor class 'Q'"),
                              ("defaultz: {}\n", "p.yaml: defaultz: unknown key"),
                              ("defaults:\n  GA: {format: s8.7, scale: 0.5}\n", "defaults.GA.scale: only W and A"),
                              ("defaults:\n  A: {format: u2.0, scale: 0.5, learn: true}\n",
                               "defaults.A.learn: learned scales are trained by fxnn's C\\+\\+ engine")):
            with self.subTest(text=text):
                with self.assertRaisesRegex(fxnn.PlanError, message):
                    fxnn.PrecisionPlan.parse(text, "p.yaml")


class FixedPointTraining(unittest.TestCase):
    def test_update_matches_the_hand_computation_of_the_cpp_optimizer(self):
        # The case of tests/optim/test_fixed_point_sgd.cpp, UpdateMatchesHandComputation.
        layer = torch.nn.Linear(2, 1, bias=False)
        model = torch.nn.Sequential()
        model.add_module("fc", layer)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([[0.3, -0.7]]))
        plan = fxnn.PrecisionPlan.parse("defaults:\n  W: s4.3\n  GW: s6.3\n  acc: s10.9\n", "p.yaml")
        sgd = fxnn.FixedPointSGD(model, fxnn.attach(model, plan), lr=0.1)
        self.assertEqual(layer.weight.tolist(), [[0.25, -0.75]])
        layer.weight.grad = torch.tensor([[1.3, -0.2]])
        sgd.step()
        self.assertEqual(layer.weight.tolist(), [[0.125, -0.625]])

    def test_a_small_network_trains_on_its_grids(self):
        torch.manual_seed(0)
        model = torch.nn.Sequential()
        model.add_module("fc1", torch.nn.Linear(8, 16))
        model.add_module("act1", fxnn.QActivation("fc1"))
        model.add_module("fc2", torch.nn.Linear(16, 3))
        model.add_module("logits", fxnn.GradientPoint("fc2"))
        plan = fxnn.PrecisionPlan.load(os.path.join(SOURCE, "configs", "plans", "uniform8.yaml"))
        sgd = fxnn.FixedPointSGD(model, fxnn.attach(model, plan, seed=3), lr=0.1)
        x, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
        losses = []
        for _ in range(100):
            sgd.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            sgd.step()
            losses.append(float(loss))
        self.assertLess(losses[-1], 0.7 * losses[0])
        w = model.fc1.weight * 128
        self.assertTrue(torch.equal(w, w.round()))  # W on s8.7
        a = model.act1(model.fc1(x)) * 128
        self.assertTrue(torch.equal(a, a.round()))  # A on u8.7

    def test_an_override_that_names_no_layer_is_an_error(self):
        model = torch.nn.Sequential(torch.nn.Linear(2, 2))
        plan = fxnn.PrecisionPlan.parse("layers:\n  fc9:\n    W: s8.7\n", "p.yaml")
        with self.assertRaisesRegex(fxnn.PlanError, "layers.fc9: matches no layer"):
            fxnn.attach(model, plan)


class NetworkFolder(unittest.TestCase):
    """export_folder on a small CNN (conv, batch norm, pooling, dense): the folder is read by the strict
    numpy reader of the format (scripts/fxnn_infer.py), whose predictions are the PyTorch model's."""

    def model(self):
        torch.manual_seed(4)
        m = torch.nn.Sequential()
        m.add_module("conv1", torch.nn.Conv2d(1, 4, 3, padding=1, bias=False))
        m.add_module("bn1", torch.nn.BatchNorm2d(4))
        m.add_module("act1", fxnn.QActivation("conv1"))
        m.add_module("pool", torch.nn.MaxPool2d(2))
        m.add_module("flatten", torch.nn.Flatten())
        m.add_module("fc", torch.nn.Linear(4 * 4 * 4, 5))
        m.add_module("logits", fxnn.GradientPoint("fc"))
        return m

    def test_a_cnn_exports_and_runs_in_the_numpy_reader(self):
        import subprocess
        import tempfile
        m = self.model()
        plan = fxnn.PrecisionPlan.load(os.path.join(SOURCE, "configs", "plans", "uniform8.yaml"))
        weights = fxnn.attach(m, plan)
        fxnn.FixedPointSGD(m, weights, lr=0.1)  # puts the weights on their grid
        with torch.no_grad():  # batch norm statistics as after training
            m.bn1.running_mean.uniform_(-0.2, 0.2)
            m.bn1.running_var.uniform_(0.5, 2.0)
        m.eval()
        pixels = np.random.default_rng(0).integers(0, 256, size=(300, 1, 8, 8), dtype=np.uint8)
        x = (torch.from_numpy(pixels.astype(np.float32)) / 255.0 - 0.5) / 0.25
        with tempfile.TemporaryDirectory() as tmp:
            folder = os.path.join(tmp, "net")
            fxnn.export_folder(m, weights, folder, [1, 8, 8], [0.5], [0.25], name="tiny_cnn")
            back = fxnn.read_folder(folder)
            self.assertEqual([n["op"] for n in back["nodes"]], ["rescale", "conv2d", "maxpool", "flatten", "dense"])
            w = back["nodes"][1]["weight"]["data"]
            self.assertTrue(np.array_equal(w, (m.conv1.weight.detach().double() * 128).round().long().numpy()))
            np.save(os.path.join(tmp, "x.npy"), pixels)
            subprocess.run([sys.executable, os.path.join(SOURCE, "scripts", "fxnn_infer.py"), "--model", folder,
                            "--input", os.path.join(tmp, "x.npy"), "--predictions", os.path.join(tmp, "p.npy")],
                           check=True, capture_output=True)
            predicted = np.load(os.path.join(tmp, "p.npy"))
            with torch.no_grad():
                expected = m(x).argmax(1).numpy()
            self.assertGreaterEqual((predicted == expected).mean(), 0.97)
            with self.assertRaisesRegex(FileExistsError, "exists"):
                fxnn.export_folder(m, weights, folder, [1, 8, 8], [0.5], [0.25])

    def test_float_weights_have_no_integer_form(self):
        m = self.model()
        weights = fxnn.attach(m, fxnn.PrecisionPlan.parse("defaults:\n  A: u8.7\n", "p.yaml"))
        with self.assertRaisesRegex(ValueError, "export: layer conv1: its weights need a fixed format"):
            fxnn.export_folder(m, weights, "/nonexistent/never_written", [1, 8, 8])


class Version(unittest.TestCase):
    def test_the_package_version_is_the_projects(self):
        with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
            line = next(l for l in f if l.startswith("project(fxnn VERSION"))
        self.assertEqual(fxnn.__version__, line.split()[2])


if __name__ == "__main__":
    unittest.main()
