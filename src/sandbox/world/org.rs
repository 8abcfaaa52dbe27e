//! The organisation the simulated workforce lives in: departments, locations,
//! titles and cost centres, each with the spread a mid-size company shows.

/// A department with its share of the workforce, its division and its titles.
pub struct Department {
    pub name: &'static str,
    pub division: &'static str,
    pub code: u16,
    /// Relative weight of the department in the workforce.
    pub weight: u32,
    pub titles: &'static [&'static str],
    pub manager_titles: &'static [&'static str],
}

/// A site with the locale most of its people's names come from.
pub struct Location {
    pub name: &'static str,
    pub code: u16,
    pub weight: u32,
    /// Index into `names::LOCALES`.
    pub locale: usize,
}

pub const DEPARTMENTS: &[Department] = &[
    Department {
        name: "Engineering",
        division: "Technology",
        code: 11,
        weight: 25,
        titles: &[
            "Software Engineer",
            "Senior Software Engineer",
            "Staff Engineer",
            "QA Engineer",
            "Site Reliability Engineer",
        ],
        manager_titles: &["Engineering Manager", "Director of Engineering"],
    },
    Department {
        name: "Information Technology",
        division: "Technology",
        code: 12,
        weight: 5,
        titles: &[
            "IT Support Specialist",
            "Systems Administrator",
            "Network Engineer",
        ],
        manager_titles: &["IT Manager", "Head of IT"],
    },
    Department {
        name: "Research",
        division: "Technology",
        code: 13,
        weight: 3,
        titles: &["Research Scientist", "Data Scientist"],
        manager_titles: &["Research Manager"],
    },
    Department {
        name: "Sales",
        division: "Commercial",
        code: 21,
        weight: 15,
        titles: &[
            "Account Executive",
            "Sales Development Representative",
            "Solutions Consultant",
        ],
        manager_titles: &["Sales Manager", "Regional Sales Director"],
    },
    Department {
        name: "Marketing",
        division: "Commercial",
        code: 22,
        weight: 7,
        titles: &[
            "Marketing Specialist",
            "Content Writer",
            "Product Marketing Manager",
        ],
        manager_titles: &["Marketing Director"],
    },
    Department {
        name: "Customer Support",
        division: "Commercial",
        code: 23,
        weight: 10,
        titles: &[
            "Support Agent",
            "Senior Support Agent",
            "Customer Success Manager",
        ],
        manager_titles: &["Support Team Lead", "Head of Customer Support"],
    },
    Department {
        name: "Operations",
        division: "Operations",
        code: 31,
        weight: 15,
        titles: &[
            "Operations Analyst",
            "Logistics Coordinator",
            "Warehouse Associate",
        ],
        manager_titles: &["Operations Manager", "Director of Operations"],
    },
    Department {
        name: "Manufacturing",
        division: "Operations",
        code: 32,
        weight: 8,
        titles: &["Machine Operator", "Production Technician", "Quality Inspector"],
        manager_titles: &["Plant Manager", "Shift Supervisor"],
    },
    Department {
        name: "Finance",
        division: "Corporate",
        code: 41,
        weight: 6,
        titles: &["Accountant", "Financial Analyst", "Payroll Specialist"],
        manager_titles: &["Finance Manager", "Chief Financial Officer"],
    },
    Department {
        name: "Human Resources",
        division: "Corporate",
        code: 42,
        weight: 4,
        titles: &["HR Generalist", "Recruiter", "HR Business Partner"],
        manager_titles: &["HR Manager", "VP People"],
    },
    Department {
        name: "Legal",
        division: "Corporate",
        code: 43,
        weight: 2,
        titles: &["Legal Counsel", "Paralegal", "Compliance Analyst"],
        manager_titles: &["General Counsel"],
    },
];

pub const LOCATIONS: &[Location] = &[
    Location {
        name: "New York",
        code: 1,
        weight: 16,
        locale: 0,
    },
    Location {
        name: "London",
        code: 2,
        weight: 12,
        locale: 0,
    },
    Location {
        name: "Berlin",
        code: 3,
        weight: 10,
        locale: 1,
    },
    Location {
        name: "Paris",
        code: 4,
        weight: 7,
        locale: 2,
    },
    Location {
        name: "São Paulo",
        code: 5,
        weight: 7,
        locale: 3,
    },
    Location {
        name: "Warsaw",
        code: 6,
        weight: 6,
        locale: 4,
    },
    Location {
        name: "Sofia",
        code: 7,
        weight: 5,
        locale: 5,
    },
    Location {
        name: "Athens",
        code: 8,
        weight: 4,
        locale: 6,
    },
    Location {
        name: "Tokyo",
        code: 9,
        weight: 8,
        locale: 7,
    },
    Location {
        name: "Shanghai",
        code: 10,
        weight: 8,
        locale: 8,
    },
    Location {
        name: "Dubai",
        code: 11,
        weight: 7,
        locale: 9,
    },
    Location {
        name: "Bengaluru",
        code: 12,
        weight: 10,
        locale: 10,
    },
];

pub const EMPLOYMENT_TYPES: [&str; 3] = ["Full-Time", "Part-Time", "Contractor"];

/// The cost centre a department at a location books to, e.g. `CC-1103`.
pub fn cost_center(department: &Department, location: &Location) -> String {
    format!("CC-{:02}{:02}", department.code, location.code)
}

/// True when a title is one of the manager titles (what a promotion leads to).
pub fn is_manager_title(title: &str) -> bool {
    DEPARTMENTS.iter().any(|d| d.manager_titles.contains(&title))
}

pub fn department(name: &str) -> Option<&'static Department> {
    DEPARTMENTS.iter().find(|d| d.name == name)
}

pub fn location(name: &str) -> Option<&'static Location> {
    LOCATIONS.iter().find(|l| l.name == name)
}
