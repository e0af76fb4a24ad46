"""Camera and compression effects, applied in capture order to the cropped word:
lighting -> resize to the output height -> optics blur / motion blur -> low resolution (down-up sampling)
-> sensor noise -> JPEG (the final encoding, see ``encode``).

Blur sizes in the profile are relative to a 32-px-high image (the model's input height) and are scaled to
the actual output height.
"""

from __future__ import annotations

import cv2
import numpy as np

from textrec.data.synth.backgrounds import fractal_noise
from textrec.data.synth.profiles import Profile


def lighting(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven illumination (a gain ramp or spot), sometimes a specular highlight and a colour cast."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:
        a = rng.uniform(0, 2 * np.pi)
        t = (xx - w / 2) * np.cos(a) / max(w, 1) + (yy - h / 2) * np.sin(a) / max(h, 1)
        gain = 1.0 + rng.uniform(0.2, 0.9) * t
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r2 = ((xx - cx) / max(w, 1)) ** 2 + ((yy - cy) / max(h, 1)) ** 2
        gain = rng.uniform(0.55, 0.9) + rng.uniform(0.2, 0.6) * np.exp(-r2 / rng.uniform(0.05, 0.5))
    out = img * gain[..., None]
    if rng.random() < 0.25:  # glare
        spot = fractal_noise(h, w, rng, octaves=2) ** 4
        out += rng.uniform(30, 110) * spot[..., None]
    if rng.random() < 0.4:
        out *= rng.uniform(0.8, 1.15, 3)[None, None, :].astype(np.float32)
    return np.clip(out, 0, 255)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    n = max(3, int(np.ceil(length)) | 1)
    k = np.zeros((n, n), np.float32)
    c = n // 2
    dx, dy = np.cos(angle) * (length / 2), np.sin(angle) * (length / 2)
    cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return k / max(float(k.sum()), 1e-6)


def degrade(img: np.ndarray, out_h: int, profile: Profile, rng: np.random.Generator) -> np.ndarray:
    """float32 crop [h, w, 3] -> uint8 RGB [out_h, out_w, 3]."""
    if rng.random() < profile.p_light:
        img = lighting(img, rng)
    h, w = img.shape[:2]
    out_w = max(4, int(round(w * out_h / h)))
    interp = cv2.INTER_AREA if out_h < h else cv2.INTER_CUBIC
    img = cv2.resize(img, (out_w, out_h), interpolation=interp)
    scale = out_h / 32.0
    if rng.random() < profile.p_blur:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*profile.blur_sigma) * scale)
    if rng.random() < profile.p_motion:
        k = motion_kernel(rng.uniform(*profile.motion_len) * scale, rng.uniform(0, np.pi))
        img = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)
    if rng.random() < profile.p_lowres:
        lo_h = max(6, int(round(out_h / rng.uniform(*profile.lowres_factor))))
        if lo_h < out_h:
            lo_w = max(2, int(round(out_w * lo_h / out_h)))
            down = cv2.INTER_AREA if rng.random() < 0.6 else cv2.INTER_NEAREST
            small = cv2.resize(img, (lo_w, lo_h), interpolation=down)
            up = cv2.INTER_LINEAR if rng.random() < 0.6 else cv2.INTER_CUBIC
            img = cv2.resize(small, (out_w, out_h), interpolation=up)
    if rng.random() < profile.p_noise:
        std = rng.uniform(*profile.noise_std)
        if rng.random() < 0.5:  # luminance grain
            img = img + rng.normal(0, std, (out_h, out_w, 1)).astype(np.float32)
        else:
            img = img + rng.normal(0, std, (out_h, out_w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(img_rgb: np.ndarray, fmt: str, quality: int) -> bytes:
    """RGB uint8 -> JPEG (given quality) or PNG bytes."""
    bgr = cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR)
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    if not ok:
        raise RuntimeError(f"cv2.imencode failed for a {img_rgb.shape} image")
    return buf.tobytes()
