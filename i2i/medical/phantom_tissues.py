"""The tissues of the phantoms and their Hounsfield-unit ranges (non-contrast unless named).

Each phantom draws one value per tissue uniformly from its range (structures of one
tissue share it, within a few HU), then adds a smooth texture of a few HU inside the body
(at most 2 HU in the head, so the grey/white contrast holds). The brain's grey matter is
drawn :data:`GREY_WHITE_MARGIN` above its white matter, the deep grey nuclei 2-5 HU
below the cortex; the diploe at least 350 HU below the skull's tables.

Sources:

* [B] Buzug TM, *Computed Tomography*, Springer 2008, p. 475, with Prokop M, *Spiral and
  Multislice CT of the Body*, Thieme 2003, as tabulated at radclass.mudr.org ("Hounsfield
  units - scale of HU"): lung (inspiration) -910..-850, fat -100..-50, white matter
  20..30, grey matter 37..45, kidney 20..40, spleen 35..55, liver 45..65, blood 45..65,
  bone 700..3000.
* [R] Radiopaedia, "Hounsfield unit": cortical bone +500..+1900, cancellous bone
  +300..+400, CSF +15, muscle +35..+55, fat -120..-90 (the values CT fat usually
  measures); iodinated contrast in vessels +100..+300 (portal-venous to arterial).
* [S] Measured on the real head CT of the shared data (TCIA CPTAC-GBM, GE LightSpeed
  VCT, 0.47 mm pixels): vault 6 mm thick at the temples, 9-10 mm frontally and
  occipitally; each table 1.5-2.5 mm, peaking at 1100-1250 HU where thin (temporal) and
  1500-1650 HU where thick (partial volume lowers thin tables); diploe 430-800 HU;
  petrous bone 1650-1950 HU (99th percentile), up to 2200. The tables are drawn a little
  denser than they measure, as the phantom has no blur of its own.
* [E] Eye: vitreous about water (5..20 HU); lens 100..130 HU (its protein makes it the
  densest soft tissue of the orbit); optic nerve like white matter; extraocular muscles
  like muscle.

Ranges below are the ones drawn from (HU).
"""

from __future__ import annotations

from types import MappingProxyType

#: HU range of each tissue: ``name: (lo, hi)``; the label of a tissue is its position here + 1.
TISSUES = MappingProxyType({
    "air": (-1000.0, -1000.0),
    "lung": (-900.0, -820.0),         # [B] inflated lung parenchyma
    "bowel_gas": (-1000.0, -900.0),
    "fat": (-120.0, -80.0),           # [R] [B] subcutaneous, visceral, orbital fat
    "skin": (30.0, 60.0),             # skin and galea, like muscle [R]
    "muscle": (35.0, 55.0),           # [R]
    "soft_tissue": (10.0, 50.0),      # trunk soft tissue, mixed muscle / fascia
    "mucosa": (15.0, 40.0),           # sinus and nasal mucosa
    "csf": (2.0, 12.0),               # [R] CSF +15 at most; ventricles, cisterns, sulci
    "grey_matter": (36.0, 44.0),      # [B] 37..45; the cortex
    "white_matter": (24.0, 30.0),     # [B] 20..30
    "deep_grey_matter": (30.0, 42.0),  # basal ganglia, thalami: 2-5 HU below the cortex [B]
    "blood": (40.0, 60.0),            # [B] dural venous sinuses (non-contrast)
    "dura": (50.0, 80.0),             # falx and tentorium (dense fibrous tissue)
    "calcification": (150.0, 400.0),  # pineal gland, choroid plexus
    "vitreous": (5.0, 20.0),          # [E]
    "lens": (100.0, 130.0),           # [E]
    "cortical_bone": (1150.0, 1800.0),  # [R] [S] skull tables
    "diploe": (400.0, 900.0),         # [S] marrow space between the tables
    "petrous_bone": (1700.0, 2200.0),  # [S] otic capsule, densest bone of the head
    "thin_bone": (500.0, 1000.0),     # sinus and air-cell walls, orbital walls at slice thickness
    "vertebra_shell": (700.0, 1200.0),  # trunk cortical shells (thin: partial volume)
    "cancellous_bone": (250.0, 450.0),  # [R] vertebral bodies
    "rib": (500.0, 1000.0),
    "pelvic_bone": (600.0, 1100.0),
    "heart": (30.0, 50.0),
    "liver": (50.0, 70.0),            # [B] 45..65
    "spleen": (40.0, 60.0),           # [B] 35..55
    "kidney": (30.0, 45.0),           # [B] 20..40 (upper end: the cortex)
    "organ": (20.0, 80.0),            # other abdominal and pelvic organs, bowel wall
    "bladder": (0.0, 15.0),           # urine, about water
    "contrast_vessel": (100.0, 300.0),  # [R] aorta, vena cava, small vessels with contrast
})

#: Grey matter minus white matter in every head phantom (HU): at least 8, at most 14.
GREY_WHITE_MARGIN = (8.0, 14.0)

#: Label of each tissue in label maps (0: nothing painted, i.e. the air around the body).
LABELS = MappingProxyType({name: i + 1 for i, name in enumerate(TISSUES)})
