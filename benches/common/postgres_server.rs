//! The PostgreSQL server of a bench's database, found among this machine's
//! processes by the port its URL names, for the CPU it used.

/// The PostgreSQL server a database URL names, found by its port among this
/// machine's processes: its CPU is the postmaster's, its live backends' and
/// the ended backends' it waited for.
pub struct PostgresServer {
    postmaster: String,
}

impl PostgresServer {
    pub fn of(url: &str) -> PostgresServer {
        let port = url::Url::parse(url)
            .unwrap()
            .port()
            .expect("a port in the URL")
            .to_string();
        let postmaster = processes()
            .into_iter()
            .find(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                args.first().is_some_and(|a| a.ends_with(b"postgres"))
                    && args.windows(2).any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
            })
            .unwrap_or_else(|| panic!("no postgres process listens on port {port}"));
        PostgresServer { postmaster }
    }

    pub fn cpu_s(&self) -> f64 {
        let children: f64 = processes()
            .iter()
            .filter(|pid| parent(pid).as_deref() == Some(self.postmaster.as_str()))
            .map(|pid| super::cpu_s(pid))
            .filter(|s| s.is_finite())
            .sum();
        super::cpu_s(&self.postmaster) + super::reaped_cpu_s(&self.postmaster) + children
    }
}

fn processes() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

fn parent(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1).map(String::from)
}
