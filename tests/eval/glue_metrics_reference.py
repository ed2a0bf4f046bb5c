#!/usr/bin/env python3
"""Independent reference values for tests/eval/test_glue_metrics.cpp.

GLUE's metrics written from their definitions (scikit-learn's multiclass Matthews formula,
F1 = 2PR/(P+R), Python's statistics.correlation for Pearson, ranks with ties averaged by
counting), on fixed predictions produced by a small LCG. Imports nothing from layerlab and
needs no numpy / scipy. Run: python3 tests/eval/glue_metrics_reference.py
The printed arrays and values are pasted into the C++ test.
"""
import math
import statistics

def lcg(seed):
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        yield state >> 33

def labels(seed, n):
    g = lcg(seed)
    return [next(g) % 2 for _ in range(n)]

def scores(seed, n, quantum):
    # values on a coarse grid so that ties occur (STS-B gold scores are multiples of 0.2)
    g = lcg(seed)
    return [round((next(g) % 26) * quantum, 6) for _ in range(n)]

def mcc(pred, gold):
    # sklearn.metrics.matthews_corrcoef, multiclass form: C = confusion matrix,
    # t_k = true counts, p_k = predicted counts, c = correct, s = samples
    classes = sorted(set(pred) | set(gold))
    t = {k: sum(1 for g in gold if g == k) for k in classes}
    p = {k: sum(1 for q in pred if q == k) for k in classes}
    c = sum(1 for a, b in zip(pred, gold) if a == b)
    s = len(gold)
    num = c * s - sum(p[k] * t[k] for k in classes)
    den = math.sqrt((s * s - sum(p[k] ** 2 for k in classes)) * (s * s - sum(t[k] ** 2 for k in classes)))
    return 0.0 if den == 0 else num / den

def f1(pred, gold):
    tp = sum(1 for a, b in zip(pred, gold) if a == 1 and b == 1)
    pp = sum(1 for a in pred if a == 1)
    gp = sum(1 for b in gold if b == 1)
    if tp == 0:
        return 0.0
    precision, recall = tp / pp, tp / gp
    return 2 * precision * recall / (precision + recall)

def acc(pred, gold):
    return sum(1 for a, b in zip(pred, gold) if a == b) / len(gold)

def ranks(x):
    # rank of v = (number of values below v) + (number equal to v + 1) / 2
    return [sum(1 for u in x if u < v) + (sum(1 for u in x if u == v) + 1) / 2 for v in x]

def spearman(x, y):
    return statistics.correlation(ranks(x), ranks(y))

def cpp(name, xs, fmt):
    print(f"const std::vector<{'int' if fmt == 'd' else 'double'}> {name} = {{" +
          ", ".join(format(v, fmt) for v in xs) + "};")

n = 37
pred, gold = labels(1, n), labels(2, n)
cpp("kPred", pred, "d")
cpp("kGold", gold, "d")
print(f"acc {acc(pred, gold)!r}")
print(f"mcc {mcc(pred, gold)!r}")
print(f"f1 {f1(pred, gold)!r}")
x, y = scores(3, 29, 0.2), scores(4, 29, 0.2)
cpp("kScoreX", x, "g")
cpp("kScoreY", y, "g")
print(f"pearson {statistics.correlation(x, y)!r}")
print(f"spearman {spearman(x, y)!r}")
print(f"ranks_x {ranks(x)}")
