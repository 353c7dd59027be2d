//! Timer events: `<timerEventDefinition>` with `timeDuration`, `timeDate` or `timeCycle`.
//!
//! - `timeDuration`: an ISO 8601 duration, `PT15M`, `P14D`, `P1Y2M3DT4H5M6S`, `P2W`. Years and
//!   months are calendar units (added to the date, the day clamped to the month's last), the rest
//!   fixed lengths.
//! - `timeDate`: an RFC 3339 date-time, `2027-01-01T09:00:00Z`.
//! - `timeCycle`: ISO 8601 repeating intervals, `R3/PT1H` (three times, an hour apart, the first
//!   an hour after arming), `R/PT1H` (unbounded), `R/2027-01-01T00:00:00Z/P1M` (from a start).
//!
//! A value in `[...]` is an Altinn expression over the instance's data (`["dataModel",
//! "deadline"]`), evaluated when the timer is armed; its string result is then read as above
//! (a date for `timeDate`, a duration for `timeDuration`, a cycle for `timeCycle`).
//!
//! Catch-up: a timer whose due time passed while flyt was down fires once when it is next
//! looked at; a cycle's next tick is then computed from the time it fired, so missed ticks are
//! not replayed.

use crate::expr::Expr;
use crate::time::Timestamp;
use time::{Date, Month, OffsetDateTime};

/// An ISO 8601 duration, split into calendar and fixed parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    pub months: u32,
    /// Weeks, days, hours, minutes and seconds, in milliseconds.
    pub millis: u64,
}

impl IsoDuration {
    /// Parses `PnYnMnWnDTnHnMnS` (fractions only on seconds).
    pub fn parse(text: &str) -> Result<IsoDuration, String> {
        let s = text.trim();
        let rest = s.strip_prefix('P').ok_or_else(|| {
            format!(
                "`{s}` is not an ISO 8601 duration: it must start with `P` (e.g. `PT15M`, `P14D`)"
            )
        })?;
        if rest.is_empty() {
            return Err(format!("`{s}` is an empty duration"));
        }
        let (date, time) = match rest.split_once('T') {
            Some((_, "")) => {
                return Err(format!("`{s}`: nothing after `T` (e.g. `PT15M`)"));
            }
            Some((d, t)) => (d, Some(t)),
            None => (rest, None),
        };
        let mut out = IsoDuration::default();
        let mut number = String::new();
        let mut take = |unit: char, number: &mut String, in_time: bool| -> Result<(), String> {
            if number.is_empty() {
                return Err(format!("`{s}`: `{unit}` has no number before it"));
            }
            let value: f64 = number
                .parse()
                .map_err(|_| format!("`{s}`: `{number}` is not a number"))?;
            if number.contains('.') && !(in_time && unit == 'S') {
                return Err(format!("`{s}`: only seconds may have a fraction"));
            }
            number.clear();
            let whole = value as u64;
            let ms = |per: u64| {
                whole
                    .checked_mul(per)
                    .ok_or_else(|| format!("`{s}` is too long"))
            };
            match (in_time, unit) {
                (false, 'Y') => {
                    out.months +=
                        u32::try_from(whole * 12).map_err(|_| format!("`{s}` is too long"))?
                }
                (false, 'M') => {
                    out.months += u32::try_from(whole).map_err(|_| format!("`{s}` is too long"))?
                }
                (false, 'W') => out.millis += ms(7 * 86_400_000)?,
                (false, 'D') => out.millis += ms(86_400_000)?,
                (true, 'H') => out.millis += ms(3_600_000)?,
                (true, 'M') => out.millis += ms(60_000)?,
                (true, 'S') => out.millis += (value * 1000.0).round() as u64,
                _ => {
                    return Err(format!(
                        "`{s}`: unexpected `{unit}` (date part: Y M W D; after T: H M S)"
                    ));
                }
            }
            Ok(())
        };
        for (part, in_time) in [(date, false)].into_iter().chain(time.map(|t| (t, true))) {
            for c in part.chars() {
                if c.is_ascii_digit() || c == '.' || c == ',' {
                    number.push(if c == ',' { '.' } else { c });
                } else {
                    take(c, &mut number, in_time)?;
                }
            }
            if !number.is_empty() {
                return Err(format!("`{s}`: the number `{number}` has no unit"));
            }
        }
        Ok(out)
    }

    /// `from` plus this duration (months on the calendar, UTC).
    pub fn after(self, from: Timestamp) -> Timestamp {
        let with_months = add_months(from, self.months);
        with_months.plus(std::time::Duration::from_millis(self.millis))
    }

    pub fn is_zero(self) -> bool {
        self.months == 0 && self.millis == 0
    }
}

fn add_months(from: Timestamp, months: u32) -> Timestamp {
    if months == 0 {
        return from;
    }
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(from.millis()) * 1_000_000)
    else {
        return from;
    };
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month()) - 1) + i64::from(months);
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let Ok(year) = i32::try_from(year) else {
        return Timestamp::from_millis(i64::MAX);
    };
    let Ok(month) = Month::try_from(month0 as u8 + 1) else {
        return from;
    };
    let last = time::util::days_in_month(month, year);
    let Ok(date) = Date::from_calendar_date(year, month, t.day().min(last)) else {
        return from;
    };
    let moved = t.replace_date(date);
    Timestamp::from_millis(
        i64::try_from(moved.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
    )
}

/// A repeating interval: `R[n]/[start/]duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// How many times it fires; `None`: unbounded.
    pub repetitions: Option<u32>,
    pub start: Option<Timestamp>,
    pub interval: IsoDuration,
}

impl Cycle {
    pub fn parse(text: &str) -> Result<Cycle, String> {
        let s = text.trim();
        let mut parts = s.split('/');
        let r = parts.next().unwrap_or_default();
        let count = r.strip_prefix('R').ok_or_else(|| {
            format!("`{s}` is not an ISO 8601 repeating interval: it must start with `R` (e.g. `R3/PT1H`)")
        })?;
        let repetitions = match count {
            "" | "-1" => None,
            n => Some(
                n.parse::<u32>()
                    .map_err(|_| format!("`{s}`: `{n}` is not a repetition count"))?,
            ),
        };
        let rest: Vec<&str> = parts.collect();
        let (start, interval) = match rest.as_slice() {
            [d] => (None, IsoDuration::parse(d)?),
            [start, d] => (
                Some(Timestamp::parse_rfc3339(start).ok_or_else(|| {
                    format!("`{s}`: `{start}` is not an RFC 3339 date-time (e.g. `2027-01-01T00:00:00Z`)")
                })?),
                IsoDuration::parse(d)?,
            ),
            _ => return Err(format!("`{s}`: expected `R[n]/duration` or `R[n]/start/duration`")),
        };
        if interval.is_zero() {
            return Err(format!("`{s}`: the interval must be longer than zero"));
        }
        if repetitions == Some(0) {
            return Err(format!("`{s}`: `R0` never fires"));
        }
        Ok(Cycle {
            repetitions,
            start,
            interval,
        })
    }

    /// The first tick at or after arming at `now`: the start (if still ahead), else one interval
    /// after the start's latest tick not after `now`, else one interval after `now`.
    pub fn first(&self, now: Timestamp) -> Timestamp {
        match self.start {
            Some(start) if start >= now => start,
            Some(start) => {
                // Catch up without replaying: the next tick after now.
                let mut t = start;
                let mut guard = 0u32;
                while t < now && guard < 100_000 {
                    t = self.interval.after(t);
                    guard += 1;
                }
                t
            }
            None => self.interval.after(now),
        }
    }
}

/// What a timer waits for, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum TimerValue {
    Duration(IsoDuration),
    Date(Timestamp),
    Cycle(Cycle),
    /// An expression evaluated when the timer is armed; its string result is read as `kind`.
    Expression {
        expr: Expr,
        kind: TimerKind,
        text: String,
    },
}

/// Which of the three a timer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    Duration,
    Date,
    Cycle,
}

impl TimerKind {
    pub fn element_name(self) -> &'static str {
        match self {
            TimerKind::Duration => "timeDuration",
            TimerKind::Date => "timeDate",
            TimerKind::Cycle => "timeCycle",
        }
    }

    /// Reads a literal of this kind.
    pub fn parse(self, text: &str) -> Result<TimerValue, String> {
        match self {
            TimerKind::Duration => IsoDuration::parse(text).map(TimerValue::Duration),
            TimerKind::Date => Timestamp::parse_rfc3339(text.trim())
                .map(TimerValue::Date)
                .ok_or_else(|| {
                    format!(
                        "`{}` is not an RFC 3339 date-time (e.g. `2027-01-01T09:00:00Z`)",
                        text.trim()
                    )
                }),
            TimerKind::Cycle => Cycle::parse(text).map(TimerValue::Cycle),
        }
    }
}

/// A timer event definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    pub value: TimerValue,
}

/// When an armed timer fires, and how many more times a cycle fires after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Armed {
    pub due: Timestamp,
    /// For cycles: the ticks left after this one (`None`: unbounded). `Some(0)` for one-shot
    /// timers.
    pub remaining: Option<u32>,
    /// For cycles: the interval to the next tick.
    pub interval: Option<IsoDuration>,
}

impl Timer {
    /// Arms a literal timer at `now`; expressions are resolved by the runtime first
    /// ([`TimerKind::parse`] on their result).
    pub fn arm_value(value: &TimerValue, now: Timestamp) -> Option<Armed> {
        Some(match value {
            TimerValue::Duration(d) => Armed {
                due: d.after(now),
                remaining: Some(0),
                interval: None,
            },
            TimerValue::Date(t) => Armed {
                due: *t,
                remaining: Some(0),
                interval: None,
            },
            TimerValue::Cycle(c) => Armed {
                due: c.first(now),
                remaining: c.repetitions.map(|n| n - 1),
                interval: Some(c.interval),
            },
            TimerValue::Expression { .. } => return None,
        })
    }

    /// The tick after one that fired at `fired`, if the cycle goes on.
    pub fn next_tick(armed: &Armed, fired: Timestamp) -> Option<Armed> {
        let interval = armed.interval?;
        let remaining = match armed.remaining {
            Some(0) => return None,
            Some(n) => Some(n - 1),
            None => None,
        };
        // From the due time, but never in the past: missed ticks are not replayed.
        let mut due = interval.after(armed.due);
        if due <= fired {
            due = interval.after(fired);
        }
        Some(Armed {
            due,
            remaining,
            interval: Some(interval),
        })
    }

    /// Whether the timer can fire without bound (a cycle without a repetition count).
    pub fn unbounded(&self) -> bool {
        match &self.value {
            TimerValue::Cycle(c) => c.repetitions.is_none(),
            TimerValue::Expression { kind, .. } => *kind == TimerKind::Cycle,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn durations_parse_and_add() {
        let t = at("2026-01-31T10:00:00Z");
        assert_eq!(
            IsoDuration::parse("PT15M").unwrap().after(t),
            at("2026-01-31T10:15:00Z")
        );
        assert_eq!(
            IsoDuration::parse("P14D").unwrap().after(t),
            at("2026-02-14T10:00:00Z")
        );
        assert_eq!(
            IsoDuration::parse("P1M").unwrap().after(t),
            at("2026-02-28T10:00:00Z"),
            "clamped"
        );
        assert_eq!(
            IsoDuration::parse("P1Y2M3DT4H5M6.5S").unwrap().after(t),
            at("2027-04-03T14:05:06.5Z")
        );
        assert_eq!(
            IsoDuration::parse("P2W").unwrap().after(t),
            at("2026-02-14T10:00:00Z")
        );
        for bad in [
            "15M", "P", "PT", "P1H", "PT1D", "P1.5D", "PT5", "P-1D", "PXD",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cycles_parse_and_tick_without_replaying() {
        let c = Cycle::parse("R3/PT1H").unwrap();
        assert_eq!(c.repetitions, Some(3));
        let now = at("2026-01-01T00:00:00Z");
        let armed = Timer::arm_value(&TimerValue::Cycle(c), now).unwrap();
        assert_eq!(
            (armed.due, armed.remaining),
            (at("2026-01-01T01:00:00Z"), Some(2))
        );
        let second = Timer::next_tick(&armed, armed.due).unwrap();
        assert_eq!(
            (second.due, second.remaining),
            (at("2026-01-01T02:00:00Z"), Some(1))
        );
        // Fired ten hours late: the next tick is an hour after firing, not a replay.
        let late = Timer::next_tick(&second, at("2026-01-01T12:00:00Z")).unwrap();
        assert_eq!(
            (late.due, late.remaining),
            (at("2026-01-01T13:00:00Z"), Some(0))
        );
        assert_eq!(
            Timer::next_tick(&late, late.due),
            None,
            "three ticks in all"
        );

        let monthly = Cycle::parse("R/2027-01-01T00:00:00Z/P1M").unwrap();
        assert_eq!(monthly.repetitions, None);
        assert_eq!(monthly.first(now), at("2027-01-01T00:00:00Z"));
        assert_eq!(
            monthly.first(at("2027-03-15T00:00:00Z")),
            at("2027-04-01T00:00:00Z")
        );
        for bad in [
            "3/PT1H",
            "R0/PT1H",
            "Rx/PT1H",
            "R/PT0S",
            "R/yesterday/PT1H",
            "R3",
        ] {
            assert!(Cycle::parse(bad).is_err(), "{bad}");
        }
    }
}
