//! Hostile idle connections, held by child processes (`hold_idle.py`), each from
//! its own 127.0.0.x address: one process cannot hold 20,000 sockets under this
//! machine's open-file limit of 20,000. The children are killed when this is
//! dropped (a failing test included), and end by themselves when their stdin
//! closes, so none outlives the process that started them.
//! Shared by the soak bench and `tests/it/listener_hardening.rs`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const HOLDER: &str = include_str!("hold_idle.py");

/// What a holder does when the server closes one of its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Leaves it closed: the connections only ever go down.
    Stay,
    /// Opens it again (once a second, at most 1,000 a second per holder).
    Reopen,
}

struct Holder {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    held: usize,
}

pub struct IdleConnections {
    holders: Vec<Holder>,
}

impl IdleConnections {
    /// Opens `count` idle connections to `target`, split evenly over `sources`
    /// (one holder process each), and returns once every holder has opened its share.
    pub fn open(target: SocketAddr, sources: &[Ipv4Addr], count: usize, closed: Closed) -> Self {
        let mode = match closed {
            Closed::Stay => "keep",
            Closed::Reopen => "reopen",
        };
        let mut connections = IdleConnections { holders: Vec::new() };
        for (i, source) in sources.iter().enumerate() {
            // The first holders take one more each when `count` does not divide evenly.
            let share = count / sources.len() + usize::from(i < count % sources.len());
            let mut child = Command::new("python3")
                .args(["-c", HOLDER])
                .args([
                    target.ip().to_string(),
                    target.port().to_string(),
                    source.to_string(),
                    share.to_string(),
                    mode.to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 starts");
            let stdin = child.stdin.take().expect("piped");
            let stdout = BufReader::new(child.stdout.take().expect("piped"));
            connections.holders.push(Holder {
                child,
                stdin,
                stdout,
                held: 0,
            });
        }
        // Started together, they open their shares side by side.
        for holder in &mut connections.holders {
            let line = read_line(&mut holder.stdout);
            holder.held = line
                .strip_prefix("held ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a holder says how many it holds: {line:?}"));
        }
        connections
    }

    /// Connections opened (the server may have closed some since).
    pub fn held(&self) -> usize {
        self.holders.iter().map(|h| h.held).sum()
    }

    /// Connections the server has not closed yet, as the holders see them now.
    pub fn still_open(&mut self) -> usize {
        self.holders
            .iter_mut()
            .map(|holder| {
                holder.stdin.write_all(b"?\n").expect("the holder is running");
                holder.stdin.flush().expect("the holder is running");
                let line = read_line(&mut holder.stdout);
                line.strip_prefix("open ")
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("a holder says how many are open: {line:?}"))
            })
            .sum()
    }
}

fn read_line(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the holder answers");
    line.trim().to_string()
}

impl Drop for IdleConnections {
    fn drop(&mut self) {
        for holder in &mut self.holders {
            let _ = holder.child.kill();
            let _ = holder.child.wait();
        }
    }
}
