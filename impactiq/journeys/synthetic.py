"""Synthetic customer journeys whose true incremental conversions per channel are known.

Attribution models credit the channels that sit on converting paths; an experiment measures the
conversions a channel causes. They differ most where a channel reaches people who would convert
anyway, and this generator is built to show that, with the truth on every channel:

- Each person has an intent u ~ N(0, 1) and, untouched, converts with probability
  sigmoid(-3.0 + 1.2 u) (about 7% over everyone, 20% in the top tenth).
- Five channels, each eligible for some people, with a randomized holdout: 15% of the eligible
  people of each channel, drawn independently per channel, never get it ("eligible but held
  out"). Everyone else eligible gets its touches at random times in a 30-day window:

      channel   eligible with probability   touches        effect on conversion (pp)
      search    sigmoid(-1.0 + 2.0 u)       1 + Poisson(1) +0.3
      email     0.5                         1 + Poisson(2) +2.0
      social    0.6                         1 + Poisson(1) +1.0
      display   sigmoid(-0.5 + 1.5 u)       1 + Poisson(3) +0.5
      call      0.15                        1              +4.0

  Search and display (retargeting) reach mostly high-intent people: the confounding. And a
  person about to convert searches for the brand: a converter exposed to search gets one more
  search touch in the six hours before converting, with probability 0.7. Search is on most
  converting paths, last on many, and causes almost nothing.
- Conversion probability: the base plus the effects of the channels the person got (additive,
  never above 1 here). A converter converts after their last touch, within three days of the
  end of the window; one conversion per person, with revenue from a log-normal (median 80).

The true incremental conversions of a channel are its effect times the number of people exposed
to it (an expectation, `JourneyData.truth`). People are linked as a CRM would: calls log a phone
(written in several formats), e-mails an address (in mixed case), other channels and
conversions a customer id, and the customers table holds each customer's phone and e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError

START = pd.Timestamp("2025-03-01")
WINDOW_DAYS = 30.0
HOLDOUT_SHARE = 0.15
NAVIGATIONAL_SEARCH = 0.7
# channel: (eligibility intercept, slope on intent; None for a flat probability), flat probability,
# extra touches (Poisson mean), effect on conversion probability.
CHANNELS = {
    "search": ((-1.0, 2.0), None, 1.0, 0.003),
    "email": (None, 0.5, 2.0, 0.020),
    "social": (None, 0.6, 1.0, 0.010),
    "display": ((-0.5, 1.5), None, 3.0, 0.005),
    "call": (None, 0.15, 0.0, 0.040),
}
# What a touch costs, per channel: a paid click, an e-mail sent, a social ad, a display
# impression (bought by the thousand), a call-centre call.
COST_PER_TOUCH = {"search": 0.80, "email": 0.01, "social": 0.40, "display": 0.02, "call": 6.00}
# Area codes whose numbers are valid North American numbers, for the generated phones.
_AREA_CODES = np.array([201, 212, 303, 305, 312, 404, 415, 512, 617, 206])


@dataclass(frozen=True)
class JourneyData:
    """The logs a user would bring, and the truth only a simulation has.

    `holdouts`: one row per eligible person and channel (customer_id, channel, held_out);
    `spend`: per channel, its total cost (touches times `COST_PER_TOUCH`);
    `truth`: per channel, its effect, people exposed and true incremental conversions."""

    touchpoints: pd.DataFrame
    conversions: pd.DataFrame
    customers: pd.DataFrame
    holdouts: pd.DataFrame
    truth: pd.DataFrame
    spend: pd.Series


def make_journeys(n_people: int = 20_000, *, seed: int = 0, base_shift: float = 0.0) -> JourneyData:
    """`n_people` people's touchpoints, conversions, CRM rows and channel holdouts (see the module).

    `base_shift` moves every person's untouched log-odds of converting (0 gives about 7%), for
    benchmarks that need more conversions per touchpoint."""
    if n_people < 10:
        raise ImpactIQError(f"Generate at least 10 people; got {n_people}.")
    rng = np.random.default_rng(seed)
    intent = rng.standard_normal(n_people)
    probability = _sigmoid(-3.0 + base_shift + 1.2 * intent)
    touches, holdouts, truth = [], [], []
    exposed_to = {}
    for name, (slope, flat, extra, effect) in CHANNELS.items():
        eligible_p = _sigmoid(slope[0] + slope[1] * intent) if slope else np.full(n_people, flat)
        eligible = rng.random(n_people) < eligible_p
        held_out = eligible & (rng.random(n_people) < HOLDOUT_SHARE)
        exposed = eligible & ~held_out
        exposed_to[name] = exposed
        probability = probability + effect * exposed
        people = np.flatnonzero(exposed)
        counts = 1 + rng.poisson(extra, size=len(people))
        touches.append((np.repeat(people, counts), name))
        holdouts.append(
            pd.DataFrame(
                {"person": np.flatnonzero(eligible), "channel": name, "held_out": held_out[eligible]}
            )
        )
        truth.append(
            {"channel": name, "effect": effect, "exposed": len(people), "incremental": effect * len(people)}
        )
    converts = rng.random(n_people) < np.minimum(probability, 1.0)

    person = np.concatenate([p for p, _ in touches])
    channel = np.concatenate([np.full(len(p), name) for p, name in touches])
    days = rng.random(len(person)) * WINDOW_DAYS
    last_touch = np.full(n_people, 0.0)
    np.maximum.at(last_touch, person, days)
    conversion_day = last_touch + rng.random(n_people) * (WINDOW_DAYS + 3.0 - last_touch)
    navigational = converts & exposed_to["search"] & (rng.random(n_people) < NAVIGATIONAL_SEARCH)
    extra_people = np.flatnonzero(navigational)
    person = np.concatenate([person, extra_people])
    channel = np.concatenate([channel, np.full(len(extra_people), "search")])
    days = np.concatenate([days, conversion_day[extra_people] - rng.random(len(extra_people)) * 0.25])
    order = np.argsort(days, kind="stable")
    person, channel, days = person[order], channel[order], days[order]

    ids = _customer_ids(np.arange(n_people))
    phones = _phones(rng, n_people)
    emails = np.char.add(np.char.add("user", np.arange(n_people).astype(str)), "@example.com")
    calls, mails = channel == "call", channel == "email"
    logged_id, logged_phone, logged_email = (np.full(len(person), None, dtype=object) for _ in range(3))
    logged_id[~(calls | mails)] = ids[person[~(calls | mails)]]
    logged_phone[calls] = _messy_phones(rng, phones[person[calls]])
    logged_email[mails] = _messy_emails(rng, emails[person[mails]])
    touchpoints = pd.DataFrame(
        {
            "timestamp": _times(days),
            "channel": channel,
            "customer_id": logged_id,
            "phone": logged_phone,
            "email": logged_email,
        }
    )
    buyers = np.flatnonzero(converts)
    conversions = pd.DataFrame(
        {
            "customer_id": ids[buyers],
            "timestamp": _times(conversion_day[buyers]),
            "revenue": np.round(rng.lognormal(np.log(80.0), 0.6, size=len(buyers)), 2),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": np.concatenate([ids, ids]),
            "phone": np.concatenate([phones, np.full(n_people, None)]),
            "email": np.concatenate([np.full(n_people, None), emails]),
        }
    )
    holdout_table = pd.concat(holdouts, ignore_index=True)
    holdout_table.insert(0, "customer_id", ids[holdout_table.pop("person").to_numpy()])
    touches_per_channel = pd.Series(channel).value_counts()
    spend = pd.Series(
        {name: round(touches_per_channel.get(name, 0) * cost, 2) for name, cost in COST_PER_TOUCH.items()},
        name="spend",
    ).rename_axis("channel")
    return JourneyData(touchpoints, conversions, customers, holdout_table, pd.DataFrame(truth), spend)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _times(days: np.ndarray) -> pd.Series:
    return pd.Series(START + pd.to_timedelta(np.round(days * 86_400), unit="s"))


def _customer_ids(people: np.ndarray) -> np.ndarray:
    return np.char.add("C", np.char.zfill(people.astype(str), 7))


def _phones(rng, n: int) -> np.ndarray:
    """Distinct valid US numbers in E.164: an area code, an exchange 200-999, a line number."""
    space = len(_AREA_CODES) * 800 * 10_000
    codes = np.unique(rng.integers(0, space, size=int(1.1 * n) + 100))
    while len(codes) < n:
        codes = np.unique(np.concatenate([codes, rng.integers(0, space, size=n)]))
    codes = rng.permutation(codes)[:n]
    area = _AREA_CODES[codes // 8_000_000]
    exchange = 200 + (codes // 10_000) % 800
    line = codes % 10_000
    return np.array([f"+1{a}{e}{x:04d}" for a, e, x in zip(area, exchange, line, strict=True)], dtype=object)


def _messy_phones(rng, phones: np.ndarray) -> np.ndarray:
    """The same numbers as a call centre logs them: with and without country code, in three styles."""
    style = rng.integers(0, 3, size=len(phones))
    out = np.empty(len(phones), dtype=object)
    for i, (number, s) in enumerate(zip(phones, style, strict=True)):
        area, exchange, line = number[2:5], number[5:8], number[8:]
        out[i] = (f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", f"+1 {area} {exchange} {line}")[
            s
        ]
    return out


def _messy_emails(rng, emails: np.ndarray) -> np.ndarray:
    upper = rng.random(len(emails)) < 0.3
    return np.where(upper, np.char.upper(emails.astype(str)), emails).astype(object)
