"""Training speed: a backend's tokens/s against a bare TRL `SFTTrainer` script with the same settings
(goal: at least 1.0x) and against a plain PyTorch loop (reported, no goal).

The same model, examples, batch size, learning-rate schedule, steps and seed on every side; tokens
are the non-padding tokens fed to the model; seconds are the training loop's alone (model loading
and data preparation excluded), on every side alike.

    .venv/bin/python bench/train_speed.py [--backend full|lora] [--steps N] [--reps N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import Row, Timing, print_rows, workspace  # noqa: E402

SIZES = {"agent_tools": (96, 8), "translate_en_zh": (48, 8)}
COMMON = dict(batch_size=16, warmup_steps=10, lr_scheduler="cosine", weight_decay=0.0, max_length=512)


def harness_backend(name: str, model_dir: str, examples, steps: int, out: Path) -> float:
    """Tokens/s of the harness's own backend, as `harness tune` runs it."""
    from harness.tuning.registry import get_backend
    from harness.tuning.settings import model_recommendations
    from harness.tuning.tune import tune

    settings = get_backend(name).settings_class(**{**model_recommendations(model_dir).get(name, {}), **COMMON,
                                                   "max_steps": steps})
    _, _, cost = tune(name, model_dir, examples, settings, 0, out)
    return cost.train_tokens / cost.train_seconds


def bare_trl(name: str, model_dir: str, examples, steps: int, out: Path) -> float:
    """Tokens/s of the script a TRL user writes: SFTTrainer on prompt/completion conversations."""
    import datasets
    import torch
    import transformers
    from trl import SFTConfig, SFTTrainer

    from harness.tuning.settings import model_recommendations

    transformers.set_seed(0)
    lr = model_recommendations(model_dir)[name]["learning_rate"]
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    data = datasets.Dataset.from_list([{"prompt": ex.messages,
                                        "completion": [{"role": "assistant", "content": ex.completion}]}
                                       for ex in examples])
    peft_config = None
    if name == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                 modules_to_save=["embed_tokens", "lm_head"], task_type="CAUSAL_LM")
    config = SFTConfig(output_dir=str(out), learning_rate=lr, max_steps=steps,
                       per_device_train_batch_size=COMMON["batch_size"], warmup_steps=COMMON["warmup_steps"],
                       lr_scheduler_type=COMMON["lr_scheduler"], weight_decay=0.0, max_length=COMMON["max_length"],
                       bf16=False, gradient_checkpointing=False, use_cpu=True, seed=0, data_seed=0,
                       save_strategy="no", report_to=[], logging_steps=5, disable_tqdm=True,
                       include_num_input_tokens_seen="non_padding", completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tok, peft_config=peft_config)
    trainer.remove_callback(transformers.PrinterCallback)  # logs are kept, not printed (as the harness does)
    start = time.perf_counter()
    trainer.train()
    return int(trainer.state.num_input_tokens_seen) / (time.perf_counter() - start)


def plain_loop(name: str, model_dir: str, examples, steps: int, out: Path) -> float:
    """Tokens/s of a hand-written loop: AdamW, warm-up then cosine, loss on the completion only
    (full fine-tuning; for `lora` the same loop over a PEFT model)."""
    import torch
    import transformers

    from harness.tuning.settings import model_recommendations

    torch.manual_seed(0)
    lr = model_recommendations(model_dir)[name]["learning_rate"]
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    if name == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                 modules_to_save=["embed_tokens", "lm_head"], task_type="CAUSAL_LM"))
    rows = []
    for ex in examples:
        prompt = tok.apply_chat_template(ex.messages, tokenize=False, add_generation_prompt=True)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        ids = tok(prompt + ex.completion + tok.eos_token, add_special_tokens=False)["input_ids"][:COMMON["max_length"]]
        rows.append((ids, [-100] * len(p_ids) + ids[len(p_ids):]))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = transformers.get_cosine_schedule_with_warmup(optimizer, COMMON["warmup_steps"], steps)
    generator = torch.Generator().manual_seed(0)
    model.train()
    tokens, step, bs = 0, 0, COMMON["batch_size"]
    start = time.perf_counter()
    while step < steps:
        order = torch.randperm(len(rows), generator=generator).tolist()
        for i in range(0, len(order), bs):
            batch = [rows[j] for j in order[i:i + bs]]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x, _ in batch])
            labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch])
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            tokens, step = tokens + int(mask.sum()), step + 1
            if step == steps:
                break
    return tokens / (time.perf_counter() - start)


def measure(root: Path, backend: str, steps: int, reps: int) -> list[Row]:
    """Tokens/s of the three, alternating within each repetition."""
    from harness.models.tiny import tiny_model_dir
    from harness.suitedef.suite import find_suites, load_suite
    from harness.tuning.tune import training_examples

    env = workspace(root, SIZES)
    os.environ["HARNESS_CACHE"] = env["HARNESS_CACHE"]
    suites = [load_suite(p) for p in find_suites([root / "suites"])]
    model_dir, examples = str(tiny_model_dir(suites)), training_examples(suites)
    sides = {"harness": harness_backend, "trl": bare_trl, "plain": plain_loop}
    speed: dict[str, list[float]] = {k: [] for k in sides}
    names = list(sides)
    plain_loop(backend, model_dir, examples, 2, root / "warm-up")  # torch's one-time set-up, on no side's clock
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            speed[name].append(sides[name](backend, model_dir, examples, steps, root / f"{name}{rep}"))
    # Timing on seconds per token, so that "min" is the least disturbed repetition on each side.
    per_token = {k: Timing([1 / v for v in values]) for k, values in speed.items()}
    rows = []
    for other, goal in (("trl", ">= 1.0x"), ("plain", "reported")):
        by_min = per_token[other].min / per_token["harness"].min
        by_median = per_token[other].median / per_token["harness"].median
        rows.append(Row(f"`{backend}` tokens/s vs {'bare TRL SFTTrainer' if other == 'trl' else 'plain PyTorch loop'}",
                        f"{by_min:.2f}x / {by_median:.2f}x", goal, by_min >= 1.0 if other == "trl" else None,
                        f"harness {max(speed['harness']):,.0f}, {other} {max(speed[other]):,.0f} tokens/s; "
                        f"{steps} steps of {COMMON['batch_size']}"))
    return rows


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="full", choices=["full", "lora"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print_rows(measure(Path(tmp), args.backend, args.steps, args.reps), "Training speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
