"""Whether the discriminator of a GAN run is doing anything: one warning line when it is
inert (the same judgement on real and generated pairs: the adversarial loss then teaches
the generator nothing) or has collapsed (it tells them apart perfectly, its loss near 0:
the generator's adversarial gradient vanishes or explodes). Read from the logged means of
``gan_d_real``, ``gan_d_fake`` and ``gan_d_accuracy`` (:mod:`i2i.engine.gan_step`)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: D's mean realness on real and generated pairs closer than this (and its accuracy within
#: it of a coin's) counts as no judgement at all.
INERT_GAP = 0.02
#: Accuracy above this (and D's loss below COLLAPSED_LOSS) counts as a collapse.
COLLAPSED_ACCURACY = 0.99
COLLAPSED_LOSS = 1e-3
#: Logged rows in a row that must show it, after the first WARMUP fraction of the run.
PATIENCE = 3
WARMUP = 0.1


@dataclass
class GanHealth:
    """Reads each logged row of a GAN run; :meth:`observe` returns a warning the first time
    the discriminator has looked inert or collapsed for :data:`PATIENCE` rows in a row."""

    total_steps: int
    streaks: dict[str, int] = field(default_factory=lambda: {"inert": 0, "collapsed": 0})
    warned: set[str] = field(default_factory=set)

    def observe(self, row: dict[str, float]) -> str | None:
        if "gan_d_real" not in row or row.get("step", 0) < WARMUP * self.total_steps:
            return None
        real, fake, accuracy = row["gan_d_real"], row["gan_d_fake"], row["gan_d_accuracy"]
        state = {"inert": abs(real - fake) < INERT_GAP and abs(accuracy - 0.5) < INERT_GAP,
                 "collapsed": accuracy > COLLAPSED_ACCURACY and 0 <= row.get("loss_d", 1.0) < COLLAPSED_LOSS}
        for kind, now in state.items():
            self.streaks[kind] = self.streaks[kind] + 1 if now else 0
            if self.streaks[kind] >= PATIENCE and kind not in self.warned:
                self.warned.add(kind)
                return self._message(kind, row)
        return None

    @staticmethod
    def _message(kind: str, row: dict[str, float]) -> str:
        seen = (f"D(real) {row['gan_d_real']:.3g}, D(generated) {row['gan_d_fake']:.3g}, accuracy "
                f"{row['gan_d_accuracy']:.2f}, loss_d {row.get('loss_d', float('nan')):.3g} at step {row.get('step')}")
        if kind == "inert":
            return (f"the discriminator is inert: it judges real and generated pairs alike ({seen}), so the "
                    "adversarial loss teaches the generator nothing; train without it (train.mode = "
                    "\"supervised\") or give D more capacity or a higher learning rate (optim.lr_d)")
        return (f"the discriminator has collapsed: it tells real from generated pairs perfectly ({seen}); "
                "lower optim.lr_d or the adversarial weight, or use an image pool (train.pool_size)")
