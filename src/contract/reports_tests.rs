//! `reports`: who counts as whose report, the count over a list, the trigger it
//! decides (joining and, with `on_exit = "remove"`, leaving), and where the
//! checker refuses it.

use serde_json::{Map, Value, json};

use super::*;
use crate::contract::map::map_employee;
use crate::contract::triggers::{groups_for, groups_to_leave};
use crate::contract::{Contract, parse};

const SHIPPED: &str = include_str!("../../assets/contract.toml");

fn contract(on_exit: &str) -> Contract {
    parse(&format!(
        "{SHIPPED}\n[[trigger]]\nname = \"people manager\"\ncondition = \"reports > 0\"\n\
         group = \"People Leaders\"\non_exit = \"{on_exit}\"\n"
    ))
    .unwrap()
}

fn record(id: &str, status: &str, supervisor: &str) -> Map<String, Value> {
    json!({
        "id": id, "employeeNumber": format!("E{id}"), "workEmail": format!("e{id}@acme.example"),
        "firstName": "Ana", "lastName": "Lima", "jobTitle": "Engineer",
        "department": "Engineering", "supervisorEId": supervisor, "location": "Berlin",
        "employmentHistoryStatus": "Full-Time", "employmentStatus": status, "hireDate": "2020-01-06"
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn who_counts_as_a_report_and_the_count_over_a_list() {
    let contract = contract("keep");
    let records = [
        record("2", "Active", "1"),
        record("3", "On Leave", "1"),
        record("4", "Terminated", "1"),
        record("5", "Active", "5"),
        record("6", "Active", ""),
        record("7", "Active", "2"),
    ];
    let mut counts = ReportCounts::default();
    for record in &records {
        counts.add(&contract, record);
        // The light read agrees with the full mapping.
        let mapped = map_employee(&contract, record).unwrap();
        let by_mapping = (mapped.manager_id.as_deref())
            .filter(|&m| counts_as_report(mapped.state, &mapped.employee_id, m));
        assert_eq!(
            reports_to_in(&contract, record).as_deref(),
            by_mapping,
            "{record:?}"
        );
    }
    // On leave counts, terminated does not, nor does naming oneself.
    assert_eq!(counts.of("1"), 2);
    assert_eq!(counts.of("2"), 1);
    assert_eq!(counts.of("5"), 0);
    assert_eq!(counts.of("99"), 0);
    assert!(contract.reads_reports());
    assert!(!parse(SHIPPED).unwrap().reads_reports());
}

#[test]
fn the_trigger_gives_the_group_once_someone_reports_and_remove_takes_it_away() {
    let groups = |contract: &Contract, reports: Option<u32>| {
        let record = record("1", "Active", "");
        let counted = Counted {
            record: &record,
            reports,
        };
        let mapped = map_employee(contract, &counted).unwrap();
        let problems = mapped
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.reason))
            .collect::<Vec<_>>();
        let today = jiff::civil::date(2026, 3, 29);
        let leave = groups_to_leave(contract, &mapped, today, ["People Leaders"]);
        (groups_for(contract, &mapped, today), leave, problems)
    };
    let keep = contract("keep");
    let (joined, _, problems) = groups(&keep, Some(1));
    assert!(joined.contains(&"People Leaders".to_string()), "{joined:?}");
    assert!(problems.is_empty(), "{problems:?}");
    let (joined, leave, _) = groups(&keep, Some(0));
    assert!(!joined.contains(&"People Leaders".to_string()), "{joined:?}");
    assert!(leave.is_empty(), "keep: the group stays");
    let (_, leave, _) = groups(&contract("remove"), Some(0));
    assert_eq!(leave, ["People Leaders"]);
    let (_, leave, _) = groups(&contract("remove"), Some(3));
    assert!(leave.is_empty());
    // Where the count is not known the record is refused, never taken out.
    let (joined, _, problems) = groups(&keep, None);
    assert!(!joined.contains(&"People Leaders".to_string()));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("people manager") && p.contains("reports")),
        "{problems:?}"
    );
}

#[test]
fn the_checker_refuses_reports_outside_a_trigger_or_without_a_manager_field() {
    let refused = |text: String, line: usize, column: usize| {
        let problems = parse(&text).unwrap_err();
        let problem = problems
            .iter()
            .find(|p| p.message.contains("reports"))
            .unwrap_or_else(|| panic!("{problems:?}"));
        assert_eq!(
            (problem.line, problem.column),
            (line, Some(column)),
            "{problem:?}"
        );
        assert!(problem.message.contains("manager_field"), "{problem:?}");
    };
    let lines = SHIPPED.lines().count();
    refused(
        format!("{SHIPPED}\n[[inclusion]]\nwhen = \"reports >= 0\"\n"),
        lines + 3,
        9,
    );
    refused(
        format!(
            "{SHIPPED}\n[[field]]\nname = \"leads\"\nhris_expr = \"reports > 0\"\ntype = \"bool\"\nowner = \"hris\"\n"
        ),
        lines + 4,
        14,
    );
    let without = SHIPPED.replace("manager_field = \"manager_id\"\n", "");
    assert_ne!(without, SHIPPED);
    let at = without.lines().count();
    refused(
        format!("{without}\n[[trigger]]\nname = \"m\"\ncondition = \"reports > 0\"\ngroup = \"L\"\n"),
        at + 4,
        14,
    );
}

#[test]
fn a_change_trigger_reads_reports_too() {
    use crate::contract::map::change_conditions;
    let contract = parse(&format!(
        "{SHIPPED}\n[[trigger]]\nname = \"manager moved\"\n\
         condition = 'reports > 0 && before.location != null && before.location != hris.location'\n\
         group = \"Managers Relocated\"\n"
    ))
    .unwrap();
    let now = record("1", "Active", "");
    let mut was = now.clone();
    was.insert("location".into(), json!("London"));
    let groups = |reports| {
        let counted = Counted {
            record: &now,
            reports: Some(reports),
        };
        let mut mapped = map_employee(&contract, &counted).unwrap();
        change_conditions(&contract, &mut mapped, &counted, Some(&was), None);
        assert!(mapped.problems.is_empty(), "{:?}", mapped.problems);
        groups_for(&contract, &mapped, jiff::civil::date(2026, 3, 29))
    };
    assert!(groups(2).contains(&"Managers Relocated".to_string()));
    assert!(!groups(0).contains(&"Managers Relocated".to_string()));
}
