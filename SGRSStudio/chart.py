"""A live loss / validation-Dice chart as inline SVG: the server sends two polylines, the browser
draws them (no plotting library in the page; a few thousand points are cheap)."""
from __future__ import annotations

from trame.widgets import html

W, H, PAD = 360, 140, 4


def empty() -> dict:
    return {"loss": "", "dice": "", "xmax": 0, "loss_max": 0.0, "dice_last": ""}


def _polyline(points, xmax: float, ymin: float, ymax: float) -> str:
    span = (ymax - ymin) or 1.0
    return " ".join(f"{PAD + (W - 2 * PAD) * x / xmax:.1f},{H - PAD - (H - 2 * PAD) * (y - ymin) / span:.1f}"
                    for x, y in points)


def lines(losses, dice) -> dict:
    """Loss on its own scale (0 … max), Dice on 0 … 1, sharing the iteration axis."""
    if not losses and not dice:
        return empty()
    xmax = max([x for x, _ in losses] + [x for x, _ in dice] + [1])
    loss_max = max((y for _, y in losses), default=1.0) or 1.0
    return {"loss": _polyline(losses, xmax, 0.0, loss_max), "dice": _polyline(dice, xmax, 0.0, 1.0),
            "xmax": xmax, "loss_max": round(loss_max, 3), "dice_last": f"{dice[-1][1]:.3f}" if dice else ""}


def build(name: str) -> None:
    html.Div(
        f'<svg id="train-chart" width="{W}" height="{H}" style="background:#1e1e1e;border:1px solid #444">'
        f'<polyline :points="{name}.loss" fill="none" stroke="#d94d33" stroke-width="1.5"/>'
        f'<polyline :points="{name}.dice" fill="none" stroke="#3380e6" stroke-width="2"/>'
        "</svg>", classes="mt-2")
    html.Div(f"<span style='color:#d94d33'>loss</span> (0–{{{{ {name}.loss_max }}}}) · "
             f"<span style='color:#3380e6'>validation Dice</span> (0–1) {{{{ {name}.dice_last }}}} · "
             f"iterations 0–{{{{ {name}.xmax }}}}", classes="text-caption")
