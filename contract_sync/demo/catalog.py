"""Realistic vocabulary for generated contracts: CSI MasterFormat-like sections and names."""

from __future__ import annotations

import numpy as np

# (cost code, section name, unit of measure)
SECTIONS = np.array(
    [
        ("01-1000", "General Requirements", "LS"),
        ("01-5000", "Temporary Facilities", "LS"),
        ("01-7400", "Final Cleaning", "SF"),
        ("02-4100", "Selective Demolition", "LS"),
        ("03-1000", "Concrete Forming", "SF"),
        ("03-2000", "Concrete Reinforcing", "TON"),
        ("03-3000", "Cast-in-Place Concrete", "CY"),
        ("04-2000", "Unit Masonry", "SF"),
        ("05-1200", "Structural Steel Framing", "TON"),
        ("05-5000", "Metal Fabrications", "LS"),
        ("06-1000", "Rough Carpentry", "LF"),
        ("07-2100", "Thermal Insulation", "SF"),
        ("07-5400", "Thermoplastic Membrane Roofing", "SF"),
        ("08-1100", "Metal Doors and Frames", "EA"),
        ("08-5100", "Aluminum Windows", "EA"),
        ("09-2900", "Gypsum Board", "SF"),
        ("09-5100", "Acoustical Ceilings", "SF"),
        ("09-6500", "Resilient Flooring", "SY"),
        ("09-9100", "Painting", "SF"),
        ("10-2800", "Toilet Accessories", "EA"),
        ("21-1300", "Wet-Pipe Sprinkler Systems", "LS"),
        ("22-1100", "Facility Water Distribution", "LF"),
        ("23-3100", "HVAC Ducts and Casings", "LF"),
        ("26-0500", "Electrical Labor", "HR"),
        ("26-2400", "Switchboards and Panelboards", "EA"),
        ("31-2300", "Excavation and Fill", "CY"),
        ("32-1200", "Flexible Paving", "SY"),
        ("33-1100", "Water Utility Distribution", "LF"),
    ]
)
AREAS = np.array(
    [
        "Level 1",
        "Level 2",
        "Level 3",
        "Roof",
        "Basement",
        "Site",
        "East Wing",
        "West Wing",
        "Core",
        "Parking",
    ]
)
PLACES = np.array(
    [
        "Riverside",
        "Oak Park",
        "Harbor View",
        "Cedar Hill",
        "Lakeside",
        "Mill Creek",
        "Northgate",
        "Pine Ridge",
        "Stone Bridge",
        "Fairview",
        "Maple Grove",
        "Summit",
    ]
)
BUILDINGS = np.array(
    [
        "Medical Office",
        "K-8 School",
        "Parking Garage",
        "Distribution Ctr",
        "Fire Station",
        "Library",
        "Senior Housing",
        "Lab Building",
        "Transit Center",
        "Civic Center",
    ]
)
OWNERS = np.array(
    [
        "City of Springfield",
        "Lakeside Unified SD",
        "Harbor Health System",
        "Northgate Logistics LLC",
        "County of Fairview",
        "Summit Housing Trust",
        "State University",
        "Mill Creek Transit Auth",
    ]
)
UOMS = ["LS", "EA", "SF", "SY", "CY", "LF", "TON", "HR"]
