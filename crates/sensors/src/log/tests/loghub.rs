//! The conformance snippets in `conformance/loghub/` against the real LogHub-2k logs: every
//! record read, every timestamp parsed, and every rule's count equal to a naive line-by-line
//! count. Skipped when the test data is absent (it is not part of the project: its license
//! allows evaluation only); `PERISCOPE_TESTDATA` points elsewhere than `../shared/testdata`.

use std::path::PathBuf;

use regex::Regex;

use super::*;

const SYSTEMS: [&str; 8] = [
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "OpenStack",
    "Spark",
    "Zookeeper",
];
/// Keys every monitor has; the binary strips them before handing the table over.
const COMMON: [&str; 7] = [
    "kind",
    "enabled",
    "description",
    "interval",
    "cron",
    "timezone",
    "timeout",
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn loghub_dir() -> PathBuf {
    match std::env::var_os("PERISCOPE_TESTDATA") {
        Some(dir) => PathBuf::from(dir).join("loghub"),
        None => workspace().join("../shared/testdata/loghub"),
    }
}

/// The monitor table of a snippet with `LOGHUB_DIR` substituted and the common keys removed.
fn snippet(system: &str, loghub: &std::path::Path) -> (String, toml::Table) {
    let path = workspace().join(format!("conformance/loghub/{system}.toml"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.replace("LOGHUB_DIR", &loghub.display().to_string());
    let doc: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let monitors = doc["monitor"].as_table().expect("[monitor.NAME]");
    assert_eq!(monitors.len(), 1, "{system}: one monitor per snippet");
    let (name, table) = monitors.iter().next().unwrap();
    let mut table = table.as_table().unwrap().clone();
    assert_eq!(table.get("kind").and_then(|k| k.as_str()), Some("log"));
    for key in COMMON {
        table.remove(key);
    }
    (name.clone(), table)
}

#[tokio::test]
async fn loghub_systems_read_end_to_end() {
    let loghub = loghub_dir();
    if !loghub.is_dir() {
        eprintln!(
            "skipped: no LogHub test data at {} (set PERISCOPE_TESTDATA)",
            loghub.display()
        );
        return;
    }
    for system in SYSTEMS {
        let (name, table) = snippet(system, &loghub);
        let settings: LogSettings = table
            .clone()
            .try_into()
            .unwrap_or_else(|e| panic!("{system}: {e}"));
        let ctx = BuildContext {
            base_dir: workspace(),
            timeout: Duration::from_secs(60),
        };
        let monitor = settings
            .build(&name, &ctx)
            .unwrap_or_else(|e| panic!("{system}: {e:?}"));
        let o = monitor
            .check(CheckContext {
                now: EARLY,
                state: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{system}: {e}"));

        let file = loghub.join(format!("{system}/{system}_2k.log"));
        let data = fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&data);
        assert_eq!(fact(&o, "records"), 2000, "{system}");
        assert_eq!(fact(&o, "records_with_timestamp"), 2000, "{system}");
        assert_eq!(fact(&o, "bytes"), data.len() as u64, "{system}");
        assert!(
            o.fragment
                .facts
                .iter()
                .any(|f| f.key == "first_record_time"),
            "{system}"
        );

        // Each rule's count against a naive count over the lines.
        let rules = table["rules"].as_table().unwrap();
        let mut report = Vec::new();
        let mut some_match = false;
        for (rule, def) in rules {
            let expected = if let Some(re) = def.get("regex").and_then(|r| r.as_str()) {
                let re = Regex::new(re).unwrap();
                text.lines().filter(|l| re.is_match(l)).count()
            } else {
                let phrases: Vec<String> = match &def["match"] {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) => {
                        a.iter().map(|v| v.as_str().unwrap().to_string()).collect()
                    }
                    other => panic!("{other:?}"),
                };
                text.lines()
                    .filter(|l| phrases.iter().any(|p| l.contains(p.as_str())))
                    .count()
            };
            assert_eq!(matches(&o, rule), expected as u64, "{system} rule {rule}");
            report.push(format!("{rule}={expected}"));
            some_match |= expected > 0;
        }
        assert!(
            some_match,
            "{system}: no rule matches anything, a useless example"
        );
        let time = |key: &str| match o
            .fragment
            .facts
            .iter()
            .find(|f| f.key == key)
            .map(|f| &f.value)
        {
            Some(FactValue::Time(t)) => t.to_string(),
            other => panic!("{system}: {key} is {other:?}"),
        };
        eprintln!(
            "{system}: 2000 records, 2000 timestamps, {} .. {}, {} [{}]",
            time("first_record_time"),
            time("last_record_time"),
            report.join(" "),
            o.outcome.status
        );
    }
}
