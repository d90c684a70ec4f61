"""The differentiable CPU rasterizer against torch autograd through the brute-force reference (and gsplat on CUDA)."""
from __future__ import annotations

import pytest
import torch

from recon_carla_bridge.recon.gaussians import GaussianSet, eval_sh
from recon_carla_bridge.recon.projection import project
from recon_carla_bridge.recon.raster_grad import composite_cpu
from recon_carla_bridge.recon.raster_reference import composite_reference
from recon_carla_bridge.recon.rasterize import rasterize_features

from .synthetic import forward_camera, random_set

WIDTH, HEIGHT = 40, 28  # 3 x 2 tiles, the last ones partial
# float32 kernels against float64 autograd: measured relative errors ~1e-7 (gradients) and ~1e-6 (images)
GRAD_TOLERANCE = 1e-4


def _tiny_set() -> GaussianSet:
    """Random Gaussians plus a few large, nearly opaque ones in front: pixels saturate (transmittance
    cutoff) and alphas clamp at 0.999, so both rules are exercised."""
    loose = random_set(60, 3)
    wall = random_set(6, 4, center=(5.0, 0.0, 0.0), spread=(0.2, 1.5, 0.8))
    wall = GaussianSet(wall.means, wall.quats, wall.log_scales + 1.0, torch.full((6,), 9.0), wall.sh, wall.semantic)
    return GaussianSet.concat([loose, wall])


def _render_and_backprop(composite, gaussians: GaussianSet):
    """Image, alpha and d(loss)/d(means, quats, log_scales, opacity logits, sh) in float64 leaves."""
    camera = forward_camera(WIDTH, HEIGHT)
    leaves = [t.detach().clone().double().requires_grad_(True)
              for t in (gaussians.means, gaussians.quats, gaussians.log_scales, gaussians.opacity_logits, gaussians.sh)]
    world = GaussianSet(*leaves, gaussians.semantic)
    projected = project(world, camera.camera_from_world()[0].double(), camera.K[0].double(), WIDTH, HEIGHT)
    features = torch.cat([projected.colors, projected.depths[:, None]], dim=1)
    image, alpha = composite(projected, features, WIDTH, HEIGHT)
    weights = torch.linspace(-1.0, 1.0, image.numel(), dtype=image.dtype).reshape(image.shape)
    loss = (image * weights).sum() + (alpha * alpha).sum()
    loss.backward()
    return image.detach(), alpha.detach(), [leaf.grad for leaf in leaves]


def test_cpu_gradients_match_autograd_through_the_reference() -> None:
    gaussians = _tiny_set()
    ref_image, ref_alpha, ref_grads = _render_and_backprop(composite_reference, gaussians)
    cpu_image, cpu_alpha, cpu_grads = _render_and_backprop(composite_cpu, gaussians)
    assert float(ref_alpha.max()) > 0.99  # the wall saturates pixels
    assert torch.allclose(cpu_image, ref_image, atol=1e-4) and torch.allclose(cpu_alpha, ref_alpha, atol=1e-4)
    for name, ref, cpu in zip(("means", "quats", "log_scales", "opacities", "sh"), ref_grads, cpu_grads):
        assert float(ref.abs().max()) > 0.0, name
        error = float((cpu - ref).norm() / ref.norm())
        assert error < GRAD_TOLERANCE, f"{name}: relative gradient error {error:.2e}"


def test_cpu_gradients_step_the_loss_down_like_finite_differences() -> None:
    """The gradient predicts the loss change of a small step along it (first order), independently of autograd."""
    gaussians = _tiny_set()
    _, _, grads = _render_and_backprop(composite_cpu, gaussians)
    step = 1e-4
    moved = GaussianSet(gaussians.means - step * grads[0].float() / grads[0].norm().float(), gaussians.quats,
                        gaussians.log_scales, gaussians.opacity_logits, gaussians.sh, gaussians.semantic)

    def loss_of(g: GaussianSet) -> float:
        with torch.no_grad():
            camera = forward_camera(WIDTH, HEIGHT)
            projected = project(g.to("cpu"), camera.camera_from_world()[0], camera.K[0], WIDTH, HEIGHT)
            image, alpha = composite_cpu(projected, torch.cat([projected.colors, projected.depths[:, None]], 1), WIDTH, HEIGHT)
            weights = torch.linspace(-1.0, 1.0, image.numel()).reshape(image.shape)
            return float((image.double() * weights).sum() + (alpha.double() ** 2).sum())

    predicted = -step * float(grads[0].norm())
    actual = loss_of(moved) - loss_of(gaussians)
    assert actual < 0 and actual == pytest.approx(predicted, rel=0.2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat comparison needs CUDA")
def test_cpu_gradients_match_gsplat() -> None:
    pytest.importorskip("gsplat")
    gaussians = _tiny_set()
    camera = forward_camera(WIDTH, HEIGHT)

    def run(backend: str, device: str):
        leaves = [t.detach().clone().to(device).requires_grad_(True)
                  for t in (gaussians.means, gaussians.quats, gaussians.log_scales, gaussians.opacity_logits, gaussians.sh)]
        means, quats, log_scales, logits, sh = leaves
        view = camera.camera_from_world()[0].to(device)
        colours = eval_sh(sh, means - camera.world_from_camera[0, :3, 3].to(device))
        out = rasterize_features(means, quats, log_scales, torch.sigmoid(logits), colours, view, camera.K[0].to(device),
                                 WIDTH, HEIGHT, backend)
        weights = torch.linspace(-1.0, 1.0, out.features.numel(), device=device).reshape(out.features.shape)
        ((out.features * weights).sum() + (out.alpha ** 2).sum()).backward()
        return out.features.detach().cpu(), [leaf.grad.cpu() for leaf in leaves]

    cpu_image, cpu_grads = run("cpu", "cpu")
    cuda_image, cuda_grads = run("gsplat", "cuda")
    assert torch.allclose(cpu_image, cuda_image, atol=2e-3)
    for name, cpu, cuda in zip(("means", "quats", "log_scales", "opacities", "sh"), cpu_grads, cuda_grads):
        error = float((cpu - cuda).norm() / cuda.norm().clamp_min(1e-12))
        assert error < 2e-2, f"{name}: relative gradient error against gsplat {error:.2e}"
