//! Topic name and topic filter rules (MQTT v5.0 §4.7).
//!
//! Owns: the checks that keep a message or subscription the broker would refuse from ever being
//! sent. A bad topic in the outbox would otherwise make the broker disconnect the client, and
//! every reconnect would send it again.
//!
//! Never: allocates or rewrites a topic.

/// minimq stores the will topic in a 128-byte string.
pub(crate) const MAX_WILL_TOPIC: usize = 128;

/// Longest UTF-8 string an MQTT packet can carry.
pub(crate) const MAX_STRING: usize = u16::MAX as usize;

/// Checks a topic name (what PUBLISH carries): 1 to 65 535 bytes, no wildcards, no NUL.
pub(crate) fn check_name(topic: &str) -> Result<(), &'static str> {
    if topic.is_empty() {
        return Err("the topic is empty");
    }
    if topic.len() > MAX_STRING {
        return Err("the topic is longer than 65535 bytes");
    }
    if topic.contains(['+', '#']) {
        return Err("a topic name cannot contain the wildcards + or #");
    }
    if topic.contains('\0') {
        return Err("a topic cannot contain NUL");
    }
    Ok(())
}

/// Checks a topic filter (what SUBSCRIBE carries): `+` and `#` only as whole levels, `#` last.
pub(crate) fn check_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("the topic filter is empty");
    }
    if filter.len() > MAX_STRING {
        return Err("the topic filter is longer than 65535 bytes");
    }
    if filter.contains('\0') {
        return Err("a topic filter cannot contain NUL");
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        match level {
            "#" if !last => return Err("# must be the last level of a topic filter"),
            "#" | "+" => {}
            _ if level.contains(['+', '#']) => {
                return Err("+ and # must stand alone in a topic filter level");
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "a/b", "/", "a//b", "sensors/température"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a/+", "a/#", "+", "a\0b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filters() {
        for ok in ["#", "+", "a/#", "a/+/b", "+/+", "/#", "a//+"] {
            assert_eq!(check_filter(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "a+/b", "a/b+", "#/a", "x\0"] {
            assert!(check_filter(bad).is_err(), "{bad:?}");
        }
    }
}
