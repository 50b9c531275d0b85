"""Video frames for people: the desk with the gaze drawn on it, the retina insets and subtitles."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


def annotate(
    frame: np.ndarray,
    *,
    gaze_px: tuple[float, float] | None,
    gaze_radius_px: float,
    fovea: np.ndarray | None,
    periphery: np.ndarray | None,
    title: str,
    subtitle: str | None,
    trail_px: list[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Draw the gaze (a circle the size of the foveal field) and, oldest to newest, the path of the
    last gazes (trail_px), the retina insets and the text."""
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    if trail_px and len(trail_px) > 1:
        for j in range(1, len(trail_px)):
            fade = int(90 + 130 * j / (len(trail_px) - 1))
            draw.line([trail_px[j - 1], trail_px[j]], fill=(fade, fade, 0), width=2)
    h = frame.shape[0]
    small = _font(max(10, h // 28))
    large = _font(max(12, h // 18))
    if gaze_px is not None:
        x, y = gaze_px
        r = max(4.0, gaze_radius_px)
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 220, 0), width=2)
        draw.line([x - 4, y, x + 4, y], fill=(255, 220, 0))
        draw.line([x, y - 4, x, y + 4], fill=(255, 220, 0))
    inset = h // 4
    for i, (label, img) in enumerate((("fovea", fovea), ("periphery", periphery))):
        if img is None:
            continue
        tile = Image.fromarray(img).resize((inset, inset), Image.NEAREST)
        x0 = frame.shape[1] - (inset + 4) * (2 - i)
        image.paste(tile, (x0, 4))
        draw.rectangle([x0 - 1, 3, x0 + inset, 4 + inset], outline=(255, 255, 255))
        draw.text((x0 + 2, inset + 6), label, fill=(255, 255, 255), font=small, stroke_width=1, stroke_fill=(0, 0, 0))
    draw.text((6, 4), title, fill=(255, 255, 255), font=small, stroke_width=1, stroke_fill=(0, 0, 0))
    if subtitle:
        box = draw.textbbox((0, 0), subtitle, font=large)
        tw = box[2] - box[0]
        tx, ty = (frame.shape[1] - tw) // 2, h - (box[3] - box[1]) - 12
        draw.rectangle([tx - 6, ty - 4, tx + tw + 6, h - 6], fill=(0, 0, 0))
        draw.text((tx, ty - box[1]), subtitle, fill=(255, 255, 255), font=large)
    return np.asarray(image)


def write_video(frames: list[np.ndarray], path: str | Path, fps: int) -> Path:
    """Write an MP4 (H.264 through imageio-ffmpeg) or, for a .gif path, a GIF."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
        return path
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"video path must end in .mp4 or .gif, got {path.name!r}")
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=8,
                            ffmpeg_log_level="error") as writer:
        for frame in frames:
            writer.append_data(frame)
    return path
