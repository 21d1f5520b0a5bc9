"""verl's own PPO entry point with training left out: composes a run's configuration, validates it
as verl does before training, and writes it, so a run script's settings can be checked on a
machine without GPUs.

    python dry_run_main_ppo.py OUT.yaml key=value …   (the arguments of python -m verl.trainer.main_ppo)

`verl.trainer.main_ppo.main` runs as published: Hydra composes `ppo_trainer.yaml` with the
overrides (an unknown key or a bad value fails here), then `validate_config` checks batch sizes,
the actor's settings and the like. Only `run_ppo`, the step that starts Ray and trains, is
replaced, by one that writes the composed configuration (interpolations kept) to OUT.yaml.
run_masksearch_grpo.sh and run_masksearch_dapo.sh call this instead of verl when
MASKSEARCH_VERL_DRY_RUN is set.
"""

import sys

from omegaconf import OmegaConf

import verl.trainer.main_ppo as main_ppo


def main():
    out = sys.argv.pop(1)

    def write_config(config, task_runner_class):
        OmegaConf.to_container(config, resolve=True)  # every interpolation resolves
        OmegaConf.save(config, out)
        print(f"dry run: the configuration verl would train with is in {out}")

    main_ppo.run_ppo = write_config
    main_ppo.main()


if __name__ == "__main__":
    main()
