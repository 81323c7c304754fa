//! Where a phone number rings: the time zone(s) of a North American
//! (NANP, +1) area code, so that a call or text is only made when it is
//! inside the legal window both where the tenant lives and where the number
//! is (a mobile keeps its area code when its owner moves).
//!
//! Data: one row per geographic area code of the US, Canada, and the
//! Caribbean and Pacific members of the plan, with the IANA zone(s) it
//! covers. Source: NANPA's area code assignments (geographic NPAs in service
//! and the overlays announced for 2024-2025) against the time zones of the
//! counties each code serves; last checked 2026-12. A code is listed with
//! every zone any part of it keeps, including zones that differ only in DST
//! (the Navajo Nation in 928, Adak in 907, Nunavut's three zones in 867). An area code that spans zones (the Florida panhandle, north
//! Idaho, west Kansas, ...) lists every zone it spans, and the caller keeps
//! only the overlap of their windows. Non-geographic codes (toll free 8xx,
//! 5xx, 900 ...) and numbers outside +1 have no row: they carry no zone of
//! their own, so only the tenant's zone applies to them.

use chrono_tz::Tz;

/// The zone(s) a phone number in E.164 form rings in, when its area code
/// says; empty when it does not (non-NANP or non-geographic numbers).
pub fn zones_for_number(e164: &str) -> &'static [Tz] {
    let Some(rest) = e164.strip_prefix("+1") else {
        return &[];
    };
    let Some(npa) = rest.get(..3).and_then(|s| s.parse::<u16>().ok()) else {
        return &[];
    };
    zones_for_area_code(npa)
}

/// The zone(s) of one NANP area code; empty when unknown or non-geographic.
pub fn zones_for_area_code(npa: u16) -> &'static [Tz] {
    AREA_CODES.binary_search_by_key(&npa, |(code, _)| *code).map_or(&[], |i| AREA_CODES[i].1)
}

/// `(area code, zones)`, sorted by area code.
static AREA_CODES: &[(u16, &[Tz])] = &[
    (201, &[Tz::America__New_York]), // NJ
    (202, &[Tz::America__New_York]), // DC
    (203, &[Tz::America__New_York]), // CT
    (204, &[Tz::America__Winnipeg]), // MB
    (205, &[Tz::America__Chicago]), // AL
    (206, &[Tz::America__Los_Angeles]), // WA
    (207, &[Tz::America__New_York]), // ME
    (208, &[Tz::America__Boise, Tz::America__Los_Angeles]), // ID
    (209, &[Tz::America__Los_Angeles]), // CA
    (210, &[Tz::America__Chicago]), // TX
    (212, &[Tz::America__New_York]), // NY
    (213, &[Tz::America__Los_Angeles]), // CA
    (214, &[Tz::America__Chicago]), // TX
    (215, &[Tz::America__New_York]), // PA
    (216, &[Tz::America__New_York]), // OH
    (217, &[Tz::America__Chicago]), // IL
    (218, &[Tz::America__Chicago]), // MN
    (219, &[Tz::America__Indiana__Indianapolis, Tz::America__Chicago]), // IN west
    (220, &[Tz::America__New_York]), // OH
    (223, &[Tz::America__New_York]), // PA
    (224, &[Tz::America__Chicago]), // IL
    (225, &[Tz::America__Chicago]), // LA
    (226, &[Tz::America__Toronto]), // ON
    (227, &[Tz::America__New_York]), // MD
    (228, &[Tz::America__Chicago]), // MS
    (229, &[Tz::America__New_York]), // GA
    (231, &[Tz::America__Detroit]), // MI
    (234, &[Tz::America__New_York]), // OH
    (235, &[Tz::America__Chicago]), // MO
    (236, &[Tz::America__Vancouver, Tz::America__Edmonton]), // BC overlays
    (239, &[Tz::America__New_York]), // FL
    (240, &[Tz::America__New_York]), // MD
    (242, &[Tz::America__Nassau]), // BS
    (246, &[Tz::America__Barbados]), // BB
    (248, &[Tz::America__Detroit]), // MI
    (249, &[Tz::America__Toronto]), // ON
    (250, &[Tz::America__Vancouver, Tz::America__Edmonton]), // BC overlays
    (251, &[Tz::America__Chicago]), // AL
    (252, &[Tz::America__New_York]), // NC
    (253, &[Tz::America__Los_Angeles]), // WA
    (254, &[Tz::America__Chicago]), // TX
    (256, &[Tz::America__Chicago]), // AL
    (257, &[Tz::America__Vancouver, Tz::America__Edmonton]), // BC overlays
    (260, &[Tz::America__Indiana__Indianapolis]), // IN
    (262, &[Tz::America__Chicago]), // WI
    (263, &[Tz::America__Toronto]), // QC
    (264, &[Tz::America__Anguilla]), // AI
    (267, &[Tz::America__New_York]), // PA
    (268, &[Tz::America__Antigua]), // AG
    (269, &[Tz::America__Detroit]), // MI
    (270, &[Tz::America__Kentucky__Louisville, Tz::America__Chicago]), // KY west
    (272, &[Tz::America__New_York]), // PA
    (274, &[Tz::America__Chicago]), // WI
    (276, &[Tz::America__New_York]), // VA
    (279, &[Tz::America__Los_Angeles]), // CA
    (281, &[Tz::America__Chicago]), // TX
    (283, &[Tz::America__New_York]), // OH
    (284, &[Tz::America__Tortola]), // VG
    (289, &[Tz::America__Toronto]), // ON
    (301, &[Tz::America__New_York]), // MD
    (302, &[Tz::America__New_York]), // DE
    (303, &[Tz::America__Denver]), // CO
    (304, &[Tz::America__New_York]), // WV
    (305, &[Tz::America__New_York]), // FL
    (306, &[Tz::America__Regina, Tz::America__Edmonton]), // SK
    (307, &[Tz::America__Denver]), // WY
    (308, &[Tz::America__Chicago, Tz::America__Denver]), // NE west
    (309, &[Tz::America__Chicago]), // IL
    (310, &[Tz::America__Los_Angeles]), // CA
    (312, &[Tz::America__Chicago]), // IL
    (313, &[Tz::America__Detroit]), // MI
    (314, &[Tz::America__Chicago]), // MO
    (315, &[Tz::America__New_York]), // NY
    (316, &[Tz::America__Chicago]), // KS
    (317, &[Tz::America__Indiana__Indianapolis]), // IN
    (318, &[Tz::America__Chicago]), // LA
    (319, &[Tz::America__Chicago]), // IA
    (320, &[Tz::America__Chicago]), // MN
    (321, &[Tz::America__New_York]), // FL
    (323, &[Tz::America__Los_Angeles]), // CA
    (324, &[Tz::America__New_York]), // FL
    (325, &[Tz::America__Chicago]), // TX
    (326, &[Tz::America__New_York]), // OH
    (327, &[Tz::America__Chicago]), // AR
    (329, &[Tz::America__New_York]), // NY
    (330, &[Tz::America__New_York]), // OH
    (331, &[Tz::America__Chicago]), // IL
    (332, &[Tz::America__New_York]), // NY
    (334, &[Tz::America__Chicago, Tz::America__New_York]), // AL; Phenix City and its neighbours keep Eastern time
    (336, &[Tz::America__New_York]), // NC
    (337, &[Tz::America__Chicago]), // LA
    (339, &[Tz::America__New_York]), // MA
    (340, &[Tz::America__St_Thomas]), // VI
    (341, &[Tz::America__Los_Angeles]), // CA
    (343, &[Tz::America__Toronto]), // ON
    (345, &[Tz::America__Cayman]), // KY islands
    (346, &[Tz::America__Chicago]), // TX
    (347, &[Tz::America__New_York]), // NY
    (350, &[Tz::America__Los_Angeles]), // CA
    (351, &[Tz::America__New_York]), // MA
    (352, &[Tz::America__New_York]), // FL
    (353, &[Tz::America__Chicago]), // WI
    (354, &[Tz::America__Toronto]), // QC
    (357, &[Tz::America__Los_Angeles]), // CA (559 overlay)
    (360, &[Tz::America__Los_Angeles]), // WA
    (361, &[Tz::America__Chicago]), // TX
    (363, &[Tz::America__New_York]), // NY
    (364, &[Tz::America__Kentucky__Louisville, Tz::America__Chicago]), // KY west
    (365, &[Tz::America__Toronto]), // ON
    (367, &[Tz::America__Toronto, Tz::America__Halifax]), // QC east
    (368, &[Tz::America__Edmonton]), // AB
    (369, &[Tz::America__Los_Angeles]), // CA
    (380, &[Tz::America__New_York]), // OH
    (382, &[Tz::America__Toronto]), // ON
    (385, &[Tz::America__Denver]), // UT
    (386, &[Tz::America__New_York]), // FL
    (387, &[Tz::America__Toronto]), // ON
    (401, &[Tz::America__New_York]), // RI
    (402, &[Tz::America__Chicago]), // NE
    (403, &[Tz::America__Edmonton]), // AB
    (404, &[Tz::America__New_York]), // GA
    (405, &[Tz::America__Chicago]), // OK
    (406, &[Tz::America__Denver]), // MT
    (407, &[Tz::America__New_York]), // FL
    (408, &[Tz::America__Los_Angeles]), // CA
    (409, &[Tz::America__Chicago]), // TX
    (410, &[Tz::America__New_York]), // MD
    (412, &[Tz::America__New_York]), // PA
    (413, &[Tz::America__New_York]), // MA
    (414, &[Tz::America__Chicago]), // WI
    (415, &[Tz::America__Los_Angeles]), // CA
    (416, &[Tz::America__Toronto]), // ON
    (417, &[Tz::America__Chicago]), // MO
    (418, &[Tz::America__Toronto, Tz::America__Halifax]), // QC east
    (419, &[Tz::America__New_York]), // OH
    (423, &[Tz::America__New_York, Tz::America__Chicago]), // TN east border
    (424, &[Tz::America__Los_Angeles]), // CA
    (425, &[Tz::America__Los_Angeles]), // WA
    (428, &[Tz::America__Moncton]), // NB
    (430, &[Tz::America__Chicago]), // TX
    (431, &[Tz::America__Winnipeg]), // MB
    (432, &[Tz::America__Chicago, Tz::America__Denver]), // TX far west
    (434, &[Tz::America__New_York]), // VA
    (435, &[Tz::America__Denver]), // UT
    (436, &[Tz::America__New_York]), // OH
    (437, &[Tz::America__Toronto]), // ON
    (438, &[Tz::America__Toronto]), // QC
    (440, &[Tz::America__New_York]), // OH
    (441, &[Tz::Atlantic__Bermuda]), // BM
    (442, &[Tz::America__Los_Angeles]), // CA
    (443, &[Tz::America__New_York]), // MD
    (445, &[Tz::America__New_York]), // PA
    (447, &[Tz::America__Chicago]), // IL
    (448, &[Tz::America__New_York, Tz::America__Chicago]), // FL panhandle
    (450, &[Tz::America__Toronto]), // QC
    (457, &[Tz::America__Chicago]), // LA
    (458, &[Tz::America__Los_Angeles, Tz::America__Boise]), // OR east
    (463, &[Tz::America__Indiana__Indianapolis]), // IN
    (464, &[Tz::America__Chicago]), // IL
    (468, &[Tz::America__Toronto]), // QC
    (469, &[Tz::America__Chicago]), // TX
    (470, &[Tz::America__New_York]), // GA
    (471, &[Tz::America__Chicago]), // MS (662 overlay)
    (472, &[Tz::America__New_York]), // NC
    (473, &[Tz::America__Grenada]), // GD
    (474, &[Tz::America__Regina, Tz::America__Edmonton]), // SK
    (475, &[Tz::America__New_York]), // CT
    (478, &[Tz::America__New_York]), // GA
    (479, &[Tz::America__Chicago]), // AR
    (480, &[Tz::America__Phoenix]), // AZ
    (484, &[Tz::America__New_York]), // PA
    (501, &[Tz::America__Chicago]), // AR
    (502, &[Tz::America__Kentucky__Louisville]), // KY
    (503, &[Tz::America__Los_Angeles]), // OR
    (504, &[Tz::America__Chicago]), // LA
    (505, &[Tz::America__Denver]), // NM
    (506, &[Tz::America__Moncton]), // NB
    (507, &[Tz::America__Chicago]), // MN
    (508, &[Tz::America__New_York]), // MA
    (509, &[Tz::America__Los_Angeles]), // WA
    (510, &[Tz::America__Los_Angeles]), // CA
    (512, &[Tz::America__Chicago]), // TX
    (513, &[Tz::America__New_York]), // OH
    (514, &[Tz::America__Toronto]), // QC
    (515, &[Tz::America__Chicago]), // IA
    (516, &[Tz::America__New_York]), // NY
    (517, &[Tz::America__Detroit]), // MI
    (518, &[Tz::America__New_York]), // NY
    (519, &[Tz::America__Toronto]), // ON
    (520, &[Tz::America__Phoenix]), // AZ
    (530, &[Tz::America__Los_Angeles]), // CA
    (531, &[Tz::America__Chicago]), // NE
    (534, &[Tz::America__Chicago]), // WI
    (539, &[Tz::America__Chicago]), // OK
    (540, &[Tz::America__New_York]), // VA
    (541, &[Tz::America__Los_Angeles, Tz::America__Boise]), // OR east
    (548, &[Tz::America__Toronto]), // ON
    (551, &[Tz::America__New_York]), // NJ
    (557, &[Tz::America__Chicago]), // MO
    (559, &[Tz::America__Los_Angeles]), // CA
    (561, &[Tz::America__New_York]), // FL
    (562, &[Tz::America__Los_Angeles]), // CA
    (563, &[Tz::America__Chicago]), // IA
    (564, &[Tz::America__Los_Angeles]), // WA
    (567, &[Tz::America__New_York]), // OH
    (570, &[Tz::America__New_York]), // PA
    (571, &[Tz::America__New_York]), // VA
    (572, &[Tz::America__Chicago]), // OK
    (573, &[Tz::America__Chicago]), // MO
    (574, &[Tz::America__Indiana__Indianapolis, Tz::America__Chicago]), // IN west
    (575, &[Tz::America__Denver]), // NM
    (579, &[Tz::America__Toronto]), // QC
    (580, &[Tz::America__Chicago]), // OK
    (581, &[Tz::America__Toronto, Tz::America__Halifax]), // QC east
    (582, &[Tz::America__New_York]), // PA
    (584, &[Tz::America__Winnipeg]), // MB
    (585, &[Tz::America__New_York]), // NY
    (586, &[Tz::America__Detroit]), // MI
    (587, &[Tz::America__Edmonton]), // AB
    (601, &[Tz::America__Chicago]), // MS
    (602, &[Tz::America__Phoenix]), // AZ
    (603, &[Tz::America__New_York]), // NH
    (604, &[Tz::America__Vancouver]), // BC
    (605, &[Tz::America__Chicago, Tz::America__Denver]), // SD
    (606, &[Tz::America__Kentucky__Louisville, Tz::America__Chicago]), // KY east; Clinton, Cumberland and Russell counties are Central
    (607, &[Tz::America__New_York]), // NY
    (608, &[Tz::America__Chicago]), // WI
    (609, &[Tz::America__New_York]), // NJ
    (610, &[Tz::America__New_York]), // PA
    (612, &[Tz::America__Chicago]), // MN
    (613, &[Tz::America__Toronto]), // ON
    (614, &[Tz::America__New_York]), // OH
    (615, &[Tz::America__Chicago]), // TN
    (616, &[Tz::America__Detroit]), // MI
    (617, &[Tz::America__New_York]), // MA
    (618, &[Tz::America__Chicago]), // IL
    (619, &[Tz::America__Los_Angeles]), // CA
    (620, &[Tz::America__Chicago, Tz::America__Denver]), // KS west
    (623, &[Tz::America__Phoenix]), // AZ
    (624, &[Tz::America__New_York]), // NY
    (626, &[Tz::America__Los_Angeles]), // CA
    (628, &[Tz::America__Los_Angeles]), // CA
    (629, &[Tz::America__Chicago]), // TN
    (630, &[Tz::America__Chicago]), // IL
    (631, &[Tz::America__New_York]), // NY
    (636, &[Tz::America__Chicago]), // MO
    (639, &[Tz::America__Regina, Tz::America__Edmonton]), // SK
    (640, &[Tz::America__New_York]), // NJ
    (641, &[Tz::America__Chicago]), // IA
    (645, &[Tz::America__New_York]), // FL
    (646, &[Tz::America__New_York]), // NY
    (647, &[Tz::America__Toronto]), // ON
    (649, &[Tz::America__Grand_Turk]), // TC
    (650, &[Tz::America__Los_Angeles]), // CA
    (651, &[Tz::America__Chicago]), // MN
    (656, &[Tz::America__New_York]), // FL
    (657, &[Tz::America__Los_Angeles]), // CA
    (658, &[Tz::America__Jamaica]), // JM
    (659, &[Tz::America__Chicago]), // AL
    (660, &[Tz::America__Chicago]), // MO
    (661, &[Tz::America__Los_Angeles]), // CA
    (662, &[Tz::America__Chicago]), // MS
    (664, &[Tz::America__Montserrat]), // MS island
    (667, &[Tz::America__New_York]), // MD
    (669, &[Tz::America__Los_Angeles]), // CA
    (670, &[Tz::Pacific__Saipan]), // MP
    (671, &[Tz::Pacific__Guam]), // GU
    (672, &[Tz::America__Vancouver, Tz::America__Edmonton]), // BC overlays
    (678, &[Tz::America__New_York]), // GA
    (679, &[Tz::America__Detroit]), // MI
    (680, &[Tz::America__New_York]), // NY
    (681, &[Tz::America__New_York]), // WV
    (682, &[Tz::America__Chicago]), // TX
    (683, &[Tz::America__Toronto]), // ON
    (684, &[Tz::Pacific__Pago_Pago]), // AS
    (686, &[Tz::America__New_York]), // VA
    (689, &[Tz::America__New_York]), // FL
    (701, &[Tz::America__Chicago, Tz::America__Denver]), // ND
    (702, &[Tz::America__Los_Angeles]), // NV
    (703, &[Tz::America__New_York]), // VA
    (704, &[Tz::America__New_York]), // NC
    (705, &[Tz::America__Toronto]), // ON
    (706, &[Tz::America__New_York]), // GA
    (707, &[Tz::America__Los_Angeles]), // CA
    (708, &[Tz::America__Chicago]), // IL
    (709, &[Tz::America__St_Johns, Tz::America__Halifax]), // NL
    (712, &[Tz::America__Chicago]), // IA
    (713, &[Tz::America__Chicago]), // TX
    (714, &[Tz::America__Los_Angeles]), // CA
    (715, &[Tz::America__Chicago]), // WI
    (716, &[Tz::America__New_York]), // NY
    (717, &[Tz::America__New_York]), // PA
    (718, &[Tz::America__New_York]), // NY
    (719, &[Tz::America__Denver]), // CO
    (720, &[Tz::America__Denver]), // CO
    (721, &[Tz::America__Lower_Princes]), // SX
    (724, &[Tz::America__New_York]), // PA
    (725, &[Tz::America__Los_Angeles]), // NV
    (726, &[Tz::America__Chicago]), // TX
    (727, &[Tz::America__New_York]), // FL
    (728, &[Tz::America__New_York]), // FL
    (729, &[Tz::America__New_York, Tz::America__Chicago]), // TN east border (423 overlay)
    (730, &[Tz::America__Chicago]), // IL
    (731, &[Tz::America__Chicago]), // TN
    (732, &[Tz::America__New_York]), // NJ
    (734, &[Tz::America__Detroit]), // MI
    (737, &[Tz::America__Chicago]), // TX
    (738, &[Tz::America__Los_Angeles]), // CA (213/323 overlay)
    (740, &[Tz::America__New_York]), // OH
    (742, &[Tz::America__Toronto]), // ON
    (743, &[Tz::America__New_York]), // NC
    (747, &[Tz::America__Los_Angeles]), // CA
    (753, &[Tz::America__Toronto]), // ON
    (754, &[Tz::America__New_York]), // FL
    (757, &[Tz::America__New_York]), // VA
    (758, &[Tz::America__St_Lucia]), // LC
    (760, &[Tz::America__Los_Angeles]), // CA
    (762, &[Tz::America__New_York]), // GA
    (763, &[Tz::America__Chicago]), // MN
    (765, &[Tz::America__Indiana__Indianapolis]), // IN
    (767, &[Tz::America__Dominica]), // DM
    (769, &[Tz::America__Chicago]), // MS
    (770, &[Tz::America__New_York]), // GA
    (771, &[Tz::America__New_York]), // DC
    (772, &[Tz::America__New_York]), // FL
    (773, &[Tz::America__Chicago]), // IL
    (774, &[Tz::America__New_York]), // MA
    (775, &[Tz::America__Los_Angeles, Tz::America__Denver]), // NV north
    (778, &[Tz::America__Vancouver, Tz::America__Edmonton]), // BC overlays
    (779, &[Tz::America__Chicago]), // IL
    (780, &[Tz::America__Edmonton]), // AB
    (781, &[Tz::America__New_York]), // MA
    (782, &[Tz::America__Halifax]), // NS PE
    (784, &[Tz::America__St_Vincent]), // VC
    (785, &[Tz::America__Chicago, Tz::America__Denver]), // KS west
    (786, &[Tz::America__New_York]), // FL
    (787, &[Tz::America__Puerto_Rico]), // PR
    (801, &[Tz::America__Denver]), // UT
    (802, &[Tz::America__New_York]), // VT
    (803, &[Tz::America__New_York]), // SC
    (804, &[Tz::America__New_York]), // VA
    (805, &[Tz::America__Los_Angeles]), // CA
    (806, &[Tz::America__Chicago]), // TX
    (807, &[Tz::America__Toronto, Tz::America__Winnipeg]), // ON northwest
    (808, &[Tz::Pacific__Honolulu]), // HI
    (809, &[Tz::America__Santo_Domingo]), // DO
    (810, &[Tz::America__Detroit]), // MI
    (812, &[Tz::America__Indiana__Indianapolis, Tz::America__Chicago]), // IN west
    (813, &[Tz::America__New_York]), // FL
    (814, &[Tz::America__New_York]), // PA
    (815, &[Tz::America__Chicago]), // IL
    (816, &[Tz::America__Chicago]), // MO
    (817, &[Tz::America__Chicago]), // TX
    (818, &[Tz::America__Los_Angeles]), // CA
    (819, &[Tz::America__Toronto]), // QC
    (820, &[Tz::America__Los_Angeles]), // CA
    (821, &[Tz::America__New_York]), // SC
    (825, &[Tz::America__Edmonton]), // AB
    (826, &[Tz::America__New_York]), // VA
    (828, &[Tz::America__New_York]), // NC
    (829, &[Tz::America__Santo_Domingo]), // DO
    (830, &[Tz::America__Chicago]), // TX
    (831, &[Tz::America__Los_Angeles]), // CA
    (832, &[Tz::America__Chicago]), // TX
    (835, &[Tz::America__New_York]), // PA
    (837, &[Tz::America__Los_Angeles]), // CA
    (838, &[Tz::America__New_York]), // NY
    (839, &[Tz::America__New_York]), // SC
    (840, &[Tz::America__Los_Angeles]), // CA
    (843, &[Tz::America__New_York]), // SC
    (845, &[Tz::America__New_York]), // NY
    (847, &[Tz::America__Chicago]), // IL
    (848, &[Tz::America__New_York]), // NJ
    (849, &[Tz::America__Santo_Domingo]), // DO
    (850, &[Tz::America__New_York, Tz::America__Chicago]), // FL panhandle
    (854, &[Tz::America__New_York]), // SC
    (856, &[Tz::America__New_York]), // NJ
    (857, &[Tz::America__New_York]), // MA
    (858, &[Tz::America__Los_Angeles]), // CA
    (859, &[Tz::America__Kentucky__Louisville]), // KY
    (860, &[Tz::America__New_York]), // CT
    (861, &[Tz::America__Chicago]), // IL
    (862, &[Tz::America__New_York]), // NJ
    (863, &[Tz::America__New_York]), // FL
    (864, &[Tz::America__New_York]), // SC
    (865, &[Tz::America__New_York]), // TN east
    (867, &[Tz::America__Whitehorse, Tz::America__Edmonton, Tz::America__Iqaluit, Tz::America__Rankin_Inlet, Tz::America__Cambridge_Bay]), // YT (year-round UTC-7), NWT (Mountain), NU (Eastern, Central, Mountain)
    (868, &[Tz::America__Port_of_Spain]), // TT
    (869, &[Tz::America__St_Kitts]), // KN
    (870, &[Tz::America__Chicago]), // AR
    (872, &[Tz::America__Chicago]), // IL
    (873, &[Tz::America__Toronto]), // QC
    (876, &[Tz::America__Jamaica]), // JM
    (878, &[Tz::America__New_York]), // PA
    (879, &[Tz::America__St_Johns, Tz::America__Halifax]), // NL (709 overlay)
    (901, &[Tz::America__Chicago]), // TN
    (902, &[Tz::America__Halifax]), // NS PE
    (903, &[Tz::America__Chicago]), // TX
    (904, &[Tz::America__New_York]), // FL
    (905, &[Tz::America__Toronto]), // ON
    (906, &[Tz::America__Detroit, Tz::America__Menominee]), // MI upper
    (907, &[Tz::America__Anchorage, Tz::America__Adak]), // AK; Adak and the western Aleutians are an hour behind
    (908, &[Tz::America__New_York]), // NJ
    (909, &[Tz::America__Los_Angeles]), // CA
    (910, &[Tz::America__New_York]), // NC
    (912, &[Tz::America__New_York]), // GA
    (913, &[Tz::America__Chicago]), // KS
    (914, &[Tz::America__New_York]), // NY
    (915, &[Tz::America__Denver]), // TX el paso
    (916, &[Tz::America__Los_Angeles]), // CA
    (917, &[Tz::America__New_York]), // NY
    (918, &[Tz::America__Chicago]), // OK
    (919, &[Tz::America__New_York]), // NC
    (920, &[Tz::America__Chicago]), // WI
    (924, &[Tz::America__Chicago]), // MN
    (925, &[Tz::America__Los_Angeles]), // CA
    (928, &[Tz::America__Phoenix, Tz::America__Denver]), // AZ; the Navajo Nation observes DST
    (929, &[Tz::America__New_York]), // NY
    (930, &[Tz::America__Indiana__Indianapolis, Tz::America__Chicago]), // IN west
    (931, &[Tz::America__Chicago]), // TN
    (934, &[Tz::America__New_York]), // NY
    (936, &[Tz::America__Chicago]), // TX
    (937, &[Tz::America__New_York]), // OH
    (938, &[Tz::America__Chicago]), // AL
    (939, &[Tz::America__Puerto_Rico]), // PR
    (940, &[Tz::America__Chicago]), // TX
    (941, &[Tz::America__New_York]), // FL
    (942, &[Tz::America__Toronto]), // ON
    (943, &[Tz::America__New_York]), // GA
    (945, &[Tz::America__Chicago]), // TX
    (947, &[Tz::America__Detroit]), // MI
    (948, &[Tz::America__New_York]), // VA
    (949, &[Tz::America__Los_Angeles]), // CA
    (951, &[Tz::America__Los_Angeles]), // CA
    (952, &[Tz::America__Chicago]), // MN
    (954, &[Tz::America__New_York]), // FL
    (956, &[Tz::America__Chicago]), // TX
    (959, &[Tz::America__New_York]), // CT
    (970, &[Tz::America__Denver]), // CO
    (971, &[Tz::America__Los_Angeles]), // OR
    (972, &[Tz::America__Chicago]), // TX
    (973, &[Tz::America__New_York]), // NJ
    (975, &[Tz::America__Chicago]), // MO
    (978, &[Tz::America__New_York]), // MA
    (979, &[Tz::America__Chicago]), // TX
    (980, &[Tz::America__New_York]), // NC
    (983, &[Tz::America__Denver]), // CO
    (984, &[Tz::America__New_York]), // NC
    (985, &[Tz::America__Chicago]), // LA
    (986, &[Tz::America__Boise, Tz::America__Los_Angeles]), // ID
    (989, &[Tz::America__Detroit]), // MI
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(AREA_CODES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(AREA_CODES.iter().all(|(code, zones)| (200..1000).contains(code) && !zones.is_empty()));
    }

    #[test]
    fn lookups() {
        assert_eq!(zones_for_number("+14155552671"), &[Tz::America__Los_Angeles]);
        assert_eq!(zones_for_number("+16175550123"), &[Tz::America__New_York]);
        assert_eq!(zones_for_number("+14165550199"), &[Tz::America__Toronto]);
        assert_eq!(zones_for_number("+18505550000"), &[Tz::America__New_York, Tz::America__Chicago]);
        // Arizona keeps MST all year; the Navajo Nation (928) observes DST.
        assert!(zones_for_number("+19285550100").contains(&Tz::America__Denver));
        assert!(zones_for_number("+19075550100").contains(&Tz::America__Adak));
        for z in [Tz::America__Whitehorse, Tz::America__Edmonton, Tz::America__Iqaluit, Tz::America__Rankin_Inlet, Tz::America__Cambridge_Bay] {
            assert!(zones_for_number("+18675550100").contains(&z), "867 {z:?}");
        }
        assert!(zones_for_number("+18005550000").is_empty(), "toll free has no zone");
        assert!(zones_for_number("+442079460958").is_empty(), "outside NANP");
        assert!(zones_for_number("+1").is_empty());
    }
}
