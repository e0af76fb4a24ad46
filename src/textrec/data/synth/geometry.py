"""One homography per image (stretch, shear, rotation, perspective) and the crop around the warped word.

Only the crop window is computed: the homography is composed with the crop's translation and
``cv2.warpPerspective`` fills just that window, reflecting the (large) canvas at its borders.
"""

from __future__ import annotations

import cv2
import numpy as np

from textrec.data.synth.compose import Scene
from textrec.data.synth.profiles import Profile


def _rotation(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def _homography(scene: Scene, profile: Profile, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = scene.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    th, tw = y1 - y0, x1 - x0
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    m = np.eye(3)
    if rng.random() < profile.p_stretch:
        m = np.diag([rng.uniform(*profile.stretch), 1.0, 1.0]) @ m
    if rng.random() < profile.p_shear:
        m = np.array([[1, rng.uniform(*profile.shear), 0], [0, 1, 0], [0, 0, 1]]) @ m
    if rng.random() < profile.p_rotation:
        a = np.deg2rad(np.clip(rng.normal(0, profile.rotation_deg), -3 * profile.rotation_deg,
                               3 * profile.rotation_deg))
        m = _rotation(a) @ m
    # no draw when off (the suite stays the same). A long word at a steep angle, squeezed into 32x100, is a
    # line no model can read: the steepest angle falls with the length (4 characters: 50 degrees, 8: 25),
    # and words over 10 characters stay out
    n = len(scene.centres)
    if profile.p_steep > 0 and n <= 10 and rng.random() < profile.p_steep:
        lo, hi = profile.steep_deg
        a = rng.uniform(lo, min(hi, max(lo + 3.0, 200.0 / n)))
        m = _rotation(np.deg2rad(a * rng.choice([-1.0, 1.0]))) @ m
    if rng.random() < profile.p_perspective:
        # move the corners of the (already transformed) word box; solve for the projective map
        hw, hh = tw / 2, th / 2
        src = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], np.float64)
        src_t = cv2.perspectiveTransform(src[None], m)[0]
        k = profile.perspective
        span = np.array([max(tw, th), th])
        jit = rng.uniform(-k, k, (4, 2)) * span
        if rng.random() < 0.5:  # a receding plane: one side shrinks vertically
            side = rng.choice([0, 1])
            shrink = rng.uniform(0, 2.5 * k) * th
            idx = (0, 3) if side == 0 else (1, 2)
            jit[idx[0], 1] += shrink
            jit[idx[1], 1] -= shrink
        p = cv2.getPerspectiveTransform(src_t.astype(np.float32), (src_t + jit).astype(np.float32))
        m = p @ m
    return m @ to_centre


def warp_and_crop(scene: Scene, profile: Profile, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The cropped word image, float32 [h, w, 3], at the canvas's pixel scale, and the character centres
    mapped into it, [L, 2] float32 (x, y) in crop pixels (a clipped crop may put some outside)."""
    m = _homography(scene, profile, rng)
    x0, y0, x1, y1 = scene.box
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float64)
    quad = cv2.perspectiveTransform(corners, m)[0]
    qx0, qy0 = quad.min(0)
    qx1, qy1 = quad.max(0)
    th = scene.text_height
    margins = rng.uniform(*profile.margin, 4) * th  # left, top, right, bottom
    margins[0] *= 0.5  # left/right margins are tighter in real crops; clipping there loses letters
    margins[2] *= 0.5
    if rng.random() < profile.p_clip:
        side = int(rng.integers(4))
        margins[side] = -rng.uniform(0.0, 0.15) * th * (0.4 if side in (0, 2) else 1.0)
    cx0, cy0 = qx0 - margins[0], qy0 - margins[1]
    cw = max(4, int(round(qx1 + margins[2] - cx0)))
    ch = max(4, int(round(qy1 + margins[3] - cy0)))
    shift = np.array([[1, 0, -cx0], [0, 1, -cy0], [0, 0, 1]], np.float64)
    crop = cv2.warpPerspective(scene.image, shift @ m, (cw, ch), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT_101)
    centres = cv2.perspectiveTransform(scene.centres.astype(np.float64)[None], shift @ m)[0]
    return crop, centres.astype(np.float32).reshape(-1, 2)
