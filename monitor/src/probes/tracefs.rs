//! tracefs: make sure it is mounted (tracepoint attach needs it) and read tracepoint formats.
use std::{fs, path::Path};

use anyhow::{Context, Result};

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs at /sys/kernel/tracing if it is not there yet.
pub fn ensure_mounted() -> Result<()> {
    if Path::new(TRACEFS).join("events").exists() {
        return Ok(());
    }
    let src = c"tracefs";
    let target = c"/sys/kernel/tracing";
    // SAFETY: plain mount(2) with static NUL-terminated strings.
    let rc = unsafe { libc::mount(src.as_ptr(), target.as_ptr(), src.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("mounting tracefs at /sys/kernel/tracing");
    }
    Ok(())
}

/// Byte offset of `field` in a tracepoint record, from its `format` file.
pub fn field_offset(category: &str, event: &str, field: &str) -> Option<u32> {
    let text = fs::read_to_string(format!("{TRACEFS}/events/{category}/{event}/format")).ok()?;
    parse_field_offset(&text, field)
}

fn parse_field_offset(format: &str, field: &str) -> Option<u32> {
    format.lines().find_map(|line| {
        let line = line.trim();
        let decl = line.strip_prefix("field:")?.split(';').next()?;
        let name = decl.split_whitespace().last()?.split('[').next()?;
        if name != field {
            return None;
        }
        line.split(';')
            .find_map(|p| p.trim().strip_prefix("offset:"))
            .and_then(|o| o.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_offsets() {
        let f = "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:bool group_dead;\toffset:32;\tsize:1;\tsigned:0;\n";
        assert_eq!(super::parse_field_offset(f, "group_dead"), Some(32));
        assert_eq!(super::parse_field_offset(f, "comm"), Some(8));
        assert_eq!(super::parse_field_offset(f, "nope"), None);
    }
}
