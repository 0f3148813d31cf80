//! The page's live timers, as the agent reports them, kept to link requests to
//! the timer that sent them and to count live timers per creation site.
//!
//! A one-shot timer leaves the live set when it fires, but the request its
//! callback starts may be recorded after the `TimerFired` record, so the last
//! [`RECENTLY_ENDED`] timers stay readable.

use std::collections::{HashMap, VecDeque};

use crate::record::TimerKind;

/// Ended timers kept readable for requests recorded after their timer fired.
const RECENTLY_ENDED: usize = 1024;

/// A timer as the agent reported it at creation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimerInfo {
    pub kind: TimerKind,
    pub delay_ms: f64,
    pub site: Option<u32>,
    /// The timer whose callback created this one.
    pub parent: Option<u64>,
    /// Seconds since the recording started.
    pub created_t: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    live: HashMap<u64, TimerInfo>,
    ended: VecDeque<(u64, TimerInfo)>,
    live_per_site: HashMap<Option<u32>, u64>,
}

impl TimerTable {
    pub fn created(&mut self, id: u64, info: TimerInfo) {
        if let Some(old) = self.live.insert(id, info) {
            // The agent reused an id it never reported ended; forget the old one.
            self.decrement_site(old.site);
        }
        *self.live_per_site.entry(info.site).or_default() += 1;
    }

    pub fn cleared(&mut self, id: u64) {
        self.end(id);
    }

    /// A timer ran its callback: a timeout ends, an interval stays live.
    pub fn fired(&mut self, id: u64) {
        if self
            .live
            .get(&id)
            .is_some_and(|info| info.kind == TimerKind::Timeout)
        {
            self.end(id);
        }
    }

    fn end(&mut self, id: u64) {
        let Some(info) = self.live.remove(&id) else {
            return;
        };
        self.decrement_site(info.site);
        self.ended.push_back((id, info));
        if self.ended.len() > RECENTLY_ENDED {
            self.ended.pop_front();
        }
    }

    fn decrement_site(&mut self, site: Option<u32>) {
        if let Some(count) = self.live_per_site.get_mut(&site) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.live_per_site.remove(&site);
            }
        }
    }

    /// Forgets every timer: the document they lived in is gone.
    pub fn clear_all(&mut self) {
        let ids: Vec<u64> = self.live.keys().copied().collect();
        for id in ids {
            self.end(id);
        }
    }

    /// Looks up a live or recently ended timer.
    pub fn get(&self, id: u64) -> Option<&TimerInfo> {
        self.live.get(&id).or_else(|| {
            self.ended
                .iter()
                .rev()
                .find(|(ended, _)| *ended == id)
                .map(|(_, info)| info)
        })
    }

    pub fn is_live(&self, id: u64) -> bool {
        self.live.contains_key(&id)
    }

    pub fn live_count(&self) -> u64 {
        self.live.len() as u64
    }

    /// Live timers by creation site (`None` when the agent had no site).
    pub fn live_per_site(&self) -> &HashMap<Option<u32>, u64> {
        &self.live_per_site
    }

    /// Live timers, by id.
    pub fn live(&self) -> impl Iterator<Item = (u64, &TimerInfo)> {
        self.live.iter().map(|(id, info)| (*id, info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: TimerKind, site: u32) -> TimerInfo {
        TimerInfo {
            kind,
            delay_ms: 1000.0,
            site: Some(site),
            parent: None,
            created_t: 0.0,
        }
    }

    #[test]
    fn interval_survives_firing() {
        let mut timers = TimerTable::default();
        timers.created(1, info(TimerKind::Interval, 7));
        timers.fired(1);
        assert!(timers.is_live(1));
        assert_eq!(timers.live_per_site()[&Some(7)], 1);
    }

    #[test]
    fn fired_timeout_stays_readable() {
        let mut timers = TimerTable::default();
        timers.created(1, info(TimerKind::Timeout, 7));
        timers.fired(1);
        assert!(!timers.is_live(1));
        assert_eq!(timers.get(1).map(|info| info.site), Some(Some(7)));
        assert!(timers.live_per_site().is_empty());
    }

    #[test]
    fn create_and_clear_leaves_nothing() {
        let mut timers = TimerTable::default();
        timers.created(1, info(TimerKind::Interval, 7));
        timers.cleared(1);
        timers.created(2, info(TimerKind::Interval, 7));
        assert_eq!(timers.live_count(), 1);
        assert_eq!(timers.live_per_site()[&Some(7)], 1);
    }
}
