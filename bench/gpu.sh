#!/usr/bin/env bash
# The GPU path in one go: the demo in bf16, a LoRA tune of a real pretrained model, generation
# throughput, each printed with tokens/s (or examples/s) and peak GPU memory, and SFT then RL
# (lora against lora+grpo on agent_tools, three training seeds, its paired results and reward checks).
#
#   bench/gpu.sh [MODEL]            MODEL defaults to smollm2-135m-instruct
#
# Environment: PYTHON (default .venv/bin/python), OUT (default bench/out/gpu-<UTC time>),
# PROCESSES (default 1; N > 1 runs the demo and the tune data-parallel on N GPUs through accelerate),
# RUN_ARGS and TUNE_ARGS (extra options for `harness run` and `harness tune`, e.g. TUNE_ARGS="--set lora.epochs=1"),
# GRPO_ARGS (options for step 4's lora+grpo run; they replace its GPU-sized grpo settings).
# Needs a CUDA GPU; everything else about the harness runs without one.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="${1:-smollm2-135m-instruct}"
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
OUT="${OUT:-bench/out/gpu-$(date -u +%Y%m%d-%H%M%S)}"
PROCESSES="${PROCESSES:-1}"
mkdir -p "$OUT"

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "bench/gpu.sh: no CUDA GPU is visible to torch; nothing to measure" >&2
    exit 1
fi
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) on $("$PYTHON" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"{p.name}, {p.total_memory / 2**30:.0f} GiB")'), torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"

echo "== 1. the demo (tiny, full and lora, bf16 on the GPU)"
# shellcheck disable=SC2086  # RUN_ARGS and TUNE_ARGS are lists of options
"$PYTHON" -m harness run --out "$OUT/demo" --processes "$PROCESSES" ${RUN_ARGS:-} | tee "$OUT/demo.log" | tail -25

echo "== 2. LoRA tune of $MODEL on the shipped suites"
"$PYTHON" -m harness tune --backend lora --model "$MODEL" --out "$OUT/lora" --processes "$PROCESSES" ${TUNE_ARGS:-} | tee "$OUT/tune.log"

echo "== 3. generation of every shipped test example with $MODEL (batch size: the largest that fits)"
"$PYTHON" - "$MODEL" "$OUT" <<'EOF'
import json
import sys
import time
from pathlib import Path

import torch

from harness.evaluate import generate_for
from harness.models import load_model
from harness.suite import find_suites, load_suite

name, out = sys.argv[1], Path(sys.argv[2])
suites = [load_suite(p) for p in find_suites(["suites"])]
model = load_model(name, suites=suites)
passes = []
for label in ("first pass (searches the batch size once, then caches it)", "second pass"):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start, n = time.perf_counter(), 0
    for suite in suites:
        n += len(generate_for(model, suite, suite.test, batch_size=None))
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    passes.append({"pass": label, "examples": n, "seconds": round(seconds, 2),
                   "examples_per_second": round(n / seconds, 1),
                   "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)})
    print(f"  {label}: {n} examples in {seconds:.1f} s = {n / seconds:.1f} examples/s, "
          f"peak {passes[-1]['peak_memory_mb']:.0f} MB, dtype {model.model.dtype}")
(out / "generation.json").write_text(json.dumps({"model": name, "passes": passes}, indent=2) + "\n")
EOF

echo "== 4. SFT then RL: lora against lora+grpo on agent_tools with $MODEL, three training seeds"
# GRPO_ARGS: extra options for this step (default: a GPU-sized group and run length)
# shellcheck disable=SC2086
"$PYTHON" -m harness run --suite suites/agent_tools --model "$MODEL" --backend lora --backend lora+grpo \
    --train-seeds 0,1,2 --out "$OUT/grpo" ${GRPO_ARGS:---set grpo.max_steps=200 --set grpo.num_generations=8 \
    --set grpo.batch_size=8 --set grpo.max_completion_length=64 --set grpo.learning_rate=2e-5} \
    | tee "$OUT/grpo.log" | tail -25

echo "== summary"
"$PYTHON" - "$OUT" <<'EOF'
import json
import sys
from pathlib import Path

from harness.record import load_record

out = Path(sys.argv[1])
(run_dir,) = [p for p in (out / "demo").iterdir() if (p / "run.json").is_file()]
record = load_record(run_dir)
print(f"  demo: device {record.environment.device}, {record.environment.world_size} process(es), "
      f"gates {sum(g.passed for g in record.gates)} of {len(record.gates)} pass")
for b in record.backends:
    c = b.cost
    print(f"  demo {b.name}: {c.tokens_per_second:,.0f} tokens/s, peak {c.peak_memory_mb:,.0f} MB {c.memory_kind}")
cost = json.loads((out / "lora" / "cost.json").read_text())
print(f"  lora tune of {cost['model']}: {cost['tokens_per_second']:,.0f} tokens/s, "
      f"peak {cost['peak_memory_mb']:,.0f} MB {cost['memory_kind']}, {cost['steps']} steps in {cost['train_seconds']} s")
for p in json.loads((out / "generation.json").read_text())["passes"]:
    print(f"  generation, {p['pass']}: {p['examples_per_second']} examples/s, peak {p['peak_memory_mb']:,.0f} MB")
print(f"  everything is under {out}")
EOF
