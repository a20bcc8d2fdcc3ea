"""Where separation stops working: for each setting, the phase length at which separated phases
fall behind the interleaved twin of the same setting at equal characters.

A separated row holds when its goodness-readout accuracy is within `accuracy_gap` and its
goodness AUC within `auc_gap` of its twin's (the signals of FF learning; softmax accuracy on
small nets barely tells FF from frozen random features). The crossing lies between the longest
phase that held and the shortest that did not, counted in characters and in updates.
"""

from __future__ import annotations

ACCURACY_GAP, AUC_GAP = 0.02, 0.02


def group_key(row: dict) -> tuple:
    """Everything that makes a setting except its schedule."""
    return tuple(sorted((k, str(v)) for k, v in row.items() if "." in k and k != "train.schedule")) + (
        ("arm", str(row["arm"])), ("chars_per_update", row["chars_per_update"]),
        ("horizon_updates", round(row["horizon_updates"], 6)))


def holds(row: dict, twin: dict) -> bool:
    return (row["final_goodness_acc"] >= twin["final_goodness_acc"] - ACCURACY_GAP
            and row["final_goodness_auc"] >= twin["final_goodness_auc"] - AUC_GAP)


def crossings(rows: list[dict]) -> list[dict]:
    """One entry per setting that has an interleaved twin and separated rows of several lengths."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    out = []
    for group in groups.values():
        twin = next((r for r in group if r["interleaved"]), None)
        separated = sorted((r for r in group if r["separated"]), key=lambda r: r["wake_chars"])
        if twin is None or not separated:
            continue
        held = [r["wake_chars"] for r in separated if holds(r, twin)]
        failed = [r["wake_chars"] for r in separated if not holds(r, twin)]
        first = separated[0]
        per_update = first["chars_per_update"]
        below = max((c for c in held if not failed or c < min(failed)), default=None)
        above = min(failed, default=None)
        out.append({"setting": twin["cell"], "chars_per_update": per_update,
                    "horizon_updates": first["horizon_updates"], "horizon_chars": first["horizon_chars"],
                    "held_up_to_chars": below, "failed_from_chars": above,
                    "held_up_to_updates": below / per_update if below else None,
                    "failed_from_updates": above / per_update if above else None,
                    "lengths": [r["wake_chars"] for r in separated]})
    return out
