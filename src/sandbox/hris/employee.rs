//! One employee as the simulated HRIS holds it, and its BambooHR field names.

use std::borrow::Cow;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Employment status in the HRIS: what the sync's lifecycle rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmploymentStatus {
    Active,
    OnLeave,
    Terminated,
}

impl EmploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmploymentStatus::Active => "Active",
            EmploymentStatus::OnLeave => "On Leave",
            EmploymentStatus::Terminated => "Terminated",
        }
    }
}

#[derive(Clone, Debug)]
pub struct HrisEmployee {
    pub id: u32,
    pub employee_number: String,
    pub work_email: String,
    pub first_name: Cow<'static, str>,
    pub last_name: Cow<'static, str>,
    pub preferred_name: Option<Cow<'static, str>>,
    pub hire_date: Date,
    /// The hire date as someone typed it, served in place of `hire_date` when
    /// set: a slip real HRIS data carries ("15/01/2020"), which no churn makes.
    pub hire_date_typed: Option<String>,
    pub supervisor_id: Option<u32>,
    pub department: Cow<'static, str>,
    pub division: Cow<'static, str>,
    pub location: Cow<'static, str>,
    pub job_title: Cow<'static, str>,
    /// `employmentHistoryStatus`: Full-Time, Part-Time or Contractor.
    pub employment_type: Cow<'static, str>,
    pub employment_status: EmploymentStatus,
    pub termination_date: Option<Date>,
    pub cost_center: String,
    pub created_at: Timestamp,
    pub last_changed: Timestamp,
}

/// Every field the HRIS serves, by its BambooHR name.
pub const FIELDS: &[&str] = &[
    "id",
    "employeeNumber",
    "workEmail",
    "firstName",
    "lastName",
    "preferredName",
    "displayName",
    "hireDate",
    "supervisorEId",
    "department",
    "division",
    "location",
    "jobTitle",
    "employmentHistoryStatus",
    "status",
    "employmentStatus",
    "terminationDate",
    "costCenter",
    "lastChanged",
];

/// The fields the directory lists.
pub const DIRECTORY_FIELDS: &[&str] = &[
    "id",
    "displayName",
    "firstName",
    "lastName",
    "preferredName",
    "jobTitle",
    "workEmail",
    "department",
    "location",
    "division",
    "supervisorEId",
];

/// One field's value, borrowed where it can be.
#[derive(Debug, PartialEq)]
pub enum FieldValue<'a> {
    Text(&'a str),
    Owned(String),
    Null,
}

impl Serialize for FieldValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Text(text) => serializer.serialize_str(text),
            FieldValue::Owned(text) => serializer.serialize_str(text),
            FieldValue::Null => serializer.serialize_none(),
        }
    }
}

impl HrisEmployee {
    pub fn id_string(&self) -> String {
        self.id.to_string()
    }

    pub fn is_active(&self) -> bool {
        self.employment_status != EmploymentStatus::Terminated
    }

    pub fn is_manager(&self) -> bool {
        crate::sandbox::world::org::is_manager_title(&self.job_title)
    }

    /// The value of a field by its BambooHR name; `None` for an unknown name.
    pub fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        use FieldValue::{Null, Owned, Text};
        Some(match name {
            "id" => Owned(self.id.to_string()),
            "employeeNumber" => Text(&self.employee_number),
            "workEmail" => Text(&self.work_email),
            "firstName" => Text(&self.first_name),
            "lastName" => Text(&self.last_name),
            "preferredName" => self.preferred_name.as_deref().map_or(Null, Text),
            "displayName" => Owned(format!(
                "{} {}",
                self.preferred_name.as_deref().unwrap_or(&self.first_name),
                self.last_name
            )),
            "hireDate" => match &self.hire_date_typed {
                Some(typed) => Text(typed),
                None => Owned(self.hire_date.to_string()),
            },
            "supervisorEId" => self.supervisor_id.map_or(Null, |id| Owned(id.to_string())),
            "department" => Text(&self.department),
            "division" => Text(&self.division),
            "location" => Text(&self.location),
            "jobTitle" => Text(&self.job_title),
            "employmentHistoryStatus" => Text(&self.employment_type),
            "status" => Text(if self.is_active() { "Active" } else { "Inactive" }),
            "employmentStatus" => Text(self.employment_status.as_str()),
            "terminationDate" => self.termination_date.map_or(Null, |d| Owned(d.to_string())),
            "costCenter" => Text(&self.cost_center),
            "lastChanged" => Owned(self.last_changed.to_string()),
            _ => return None,
        })
    }

    /// A serialisable view of the given fields (names must be known; unknown
    /// names serialise as null).
    pub fn view<'a>(&'a self, fields: &'a [&'a str]) -> EmployeeView<'a> {
        EmployeeView {
            employee: self,
            fields,
        }
    }

    /// All fields as a JSON object (for webhook payloads).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        FIELDS
            .iter()
            .map(|name| {
                let value = serde_json::to_value(self.field(name).unwrap_or(FieldValue::Null))
                    .unwrap_or(serde_json::Value::Null);
                (name.to_string(), value)
            })
            .collect()
    }
}

pub struct EmployeeView<'a> {
    employee: &'a HrisEmployee,
    fields: &'a [&'a str],
}

impl Serialize for EmployeeView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for name in self.fields {
            map.serialize_entry(name, &self.employee.field(name).unwrap_or(FieldValue::Null))?;
        }
        map.end()
    }
}

/// The first name in `fields` the HRIS does not know, if any.
pub fn unknown_field<'a>(fields: &[&'a str]) -> Option<&'a str> {
    fields.iter().copied().find(|name| !FIELDS.contains(name))
}
