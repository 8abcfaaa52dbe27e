//! The learning catalogue shared by the simulated LMS, LRS and HRIS: courses
//! (with the HRIS training type each maps to) and the learning-path groups.

/// A course in the LMS, reported to the LRS under its IRI.
pub struct Course {
    pub slug: &'static str,
    pub name: &'static str,
    /// The HRIS training type id this course is recorded under.
    pub training_type_id: u32,
    pub hours: f32,
    pub credits: f32,
    /// An assessed course reports `passed`/`failed` with a score.
    pub assessed: bool,
    /// Courses that award a credential: its name and how many days it is valid.
    pub credential: Option<(&'static str, u32)>,
}

pub const COURSE_IRI_BASE: &str = "https://lms.example.com/courses/";

pub const COURSES: &[Course] = &[
    Course {
        slug: "onboarding-101",
        name: "Welcome to Acme",
        training_type_id: 1,
        hours: 2.0,
        credits: 0.0,
        assessed: false,
        credential: None,
    },
    Course {
        slug: "code-of-conduct",
        name: "Code of Conduct",
        training_type_id: 2,
        hours: 1.0,
        credits: 0.5,
        assessed: true,
        credential: None,
    },
    Course {
        slug: "data-protection",
        name: "Data Protection Essentials",
        training_type_id: 3,
        hours: 1.5,
        credits: 1.0,
        assessed: true,
        credential: Some(("Data Protection Certificate", 365)),
    },
    Course {
        slug: "security-awareness",
        name: "Security Awareness",
        training_type_id: 4,
        hours: 1.0,
        credits: 1.0,
        assessed: true,
        credential: Some(("Security Awareness Certificate", 180)),
    },
    Course {
        slug: "workplace-safety",
        name: "Workplace Health and Safety",
        training_type_id: 5,
        hours: 3.0,
        credits: 2.0,
        assessed: true,
        credential: Some(("Health and Safety Card", 400)),
    },
    Course {
        slug: "forklift-operation",
        name: "Forklift Operation",
        training_type_id: 6,
        hours: 8.0,
        credits: 4.0,
        assessed: true,
        credential: Some(("Forklift Licence", 90)),
    },
    Course {
        slug: "first-aid",
        name: "First Aid at Work",
        training_type_id: 7,
        hours: 6.0,
        credits: 3.0,
        assessed: true,
        credential: Some(("First Aid Certificate", 30)),
    },
    Course {
        slug: "leading-teams",
        name: "Leading High-Performing Teams",
        training_type_id: 8,
        hours: 12.0,
        credits: 6.0,
        assessed: false,
        credential: None,
    },
    Course {
        slug: "anti-bribery",
        name: "Anti-Bribery and Corruption",
        training_type_id: 9,
        hours: 1.0,
        credits: 0.5,
        assessed: true,
        credential: Some(("Anti-Bribery Attestation", 365)),
    },
    Course {
        slug: "excel-intermediate",
        name: "Excel for Analysts",
        training_type_id: 10,
        hours: 4.0,
        credits: 2.0,
        assessed: false,
        credential: None,
    },
];

impl Course {
    pub fn iri(&self) -> String {
        format!("{COURSE_IRI_BASE}{}", self.slug)
    }
}

/// A learning path, created in the LMS as a SCIM group.
pub struct LearningPath {
    pub external_id: String,
    pub display_name: String,
}

/// The learning paths the LMS starts with: onboarding, leadership, and one
/// compliance path per location.
pub fn learning_paths() -> Vec<LearningPath> {
    let mut paths = vec![
        LearningPath {
            external_id: "path-onboarding".into(),
            display_name: "Onboarding".into(),
        },
        LearningPath {
            external_id: "path-leadership".into(),
            display_name: "Leadership".into(),
        },
    ];
    for location in super::org::LOCATIONS {
        paths.push(LearningPath {
            external_id: format!("path-compliance-{}", location.code),
            display_name: format!("Compliance {}", location.name),
        });
    }
    paths
}
