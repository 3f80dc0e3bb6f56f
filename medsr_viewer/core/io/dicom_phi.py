"""Which DICOM attributes identify the patient: what the tag browser masks until revealed.

The rule follows the Basic Application Level Confidentiality Profile of DICOM PS3.15
Annex E (Table E.1-1), leaning towards masking. An attribute is patient-identifying (PHI)
when any of these holds:

- it is a **private** attribute (odd group), private creators included: vendors keep
  names, IDs and dates there (the profile removes them unless known safe);
- it lies in a group that only describes the patient or the visit: **0010** (Patient),
  **0038** (Visit, admission), **4008** (Results);
- its VR is a **person name** (PN), a **date, time or date-time** (DA, TM, DT: the profile
  removes or shifts the dates and times of the patient's study), or an **application
  entity title** (AE: names a station of the institution);
- its VR is **UI** and it is an instance UID (study, series, SOP instance, frame of
  reference, referenced instances, ...): the profile replaces every UID that identifies an
  instance. Class and syntax UIDs (:data:`SAFE_UIDS`: SOP class, transfer syntax,
  implementation, coding scheme) say what the data is, not whose, and are shown;
- its keyword is in :data:`PHI_KEYWORDS`: IDs, addresses, phone numbers, institution and
  department, physicians and operators, station and device identity (serial numbers,
  device IDs), free-text comments and the sequences that hold such people or references;
- it is nested in a sequence that is PHI (every item's content inherits it).

Deliberately shown: the study and series descriptions, protocol name and body part. The
profile removes descriptions as free text that *may* hold identifying words, but they say
what was acquired, the viewer already shows the series description as the study's name,
and de-identified collections keep them (the profile's Retain/Clean Descriptors options).
"""

from __future__ import annotations

#: Groups that only describe the patient, the visit or the results.
PHI_GROUPS = frozenset({0x0010, 0x0038, 0x4008})
#: Value representations whose values identify a person, a time of the visit or a station.
PHI_VRS = frozenset({"PN", "DA", "TM", "DT", "AE"})
#: UIDs that name a class or syntax (never an instance): shown.
SAFE_UIDS = frozenset({
    "SOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID", "ImplementationClassUID",
    "ReferencedSOPClassUID", "ReferencedSOPClassUIDInFile", "ReferencedTransferSyntaxUIDInFile",
    "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID", "CodingSchemeUID",
    "MappingResourceUID", "ContextUID", "PrivateInformationCreatorUID",
    "SOPClassesInStudy",
})
#: Attributes of Annex E identifying by keyword (besides the groups and VRs above).
PHI_KEYWORDS = frozenset({
    # identifiers of the study, the request, the procedure and the patient's records
    "AccessionNumber", "StudyID", "AdmissionID", "IssuerOfAdmissionID", "IssuerOfPatientID",
    "OtherPatientIDs", "OtherPatientIDsSequence", "MedicalRecordLocator", "ServiceEpisodeID",
    "IssuerOfServiceEpisodeID", "ServiceEpisodeDescription", "RequestedProcedureID",
    "PerformedProcedureStepID", "ScheduledProcedureStepID", "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest", "StudyIDIssuer", "InterpretationID",
    "InterpretationIDIssuer", "ResultsID", "ResultsIDIssuer", "SpecimenAccessionNumber",
    "SpecimenIdentifier", "ContainerIdentifier", "VerifyingObserverIdentificationCodeSequence",
    "TargetUID", "DeviceUID", "InstanceCreatorUID", "StorageMediaFileSetID",
    "StorageMediaFileSetUID", "ConcatenationUID", "DimensionOrganizationUID",
    "IrradiationEventUID", "SynchronizationFrameOfReferenceUID", "LargePaletteColorLookupTableUID",
    "TemplateExtensionOrganizationUID", "TemplateExtensionCreatorUID", "FiducialUID",
    "UID", "DigitalSignatureUID", "ReferencedFrameOfReferenceUID",
    "ClinicalTrialSubjectID", "ClinicalTrialSubjectReadingID", "ClinicalTrialSiteID",
    "ClinicalTrialSiteName", "ClinicalTrialTimePointID", "ClinicalTrialSeriesID",
    # people: patients' relatives, physicians, operators, observers, authors, recipients
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
    "PatientAddress", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName",
    "PatientTelephoneNumbers", "ReferringPhysicianName", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName", "ConsultingPhysicianIdentificationSequence",
    "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence",
    "OperatorsName", "OperatorIdentificationSequence", "RequestingPhysician",
    "RequestingPhysicianIdentificationSequence", "ScheduledPerformingPhysicianName",
    "ScheduledPerformingPhysicianIdentificationSequence", "ScheduledHumanPerformersSequence",
    "ActualHumanPerformersSequence", "HumanPerformerName", "HumanPerformerOrganization",
    "PersonName", "PersonAddress", "PersonTelephoneNumbers", "PersonIdentificationCodeSequence",
    "ContentCreatorName", "ContentCreatorIdentificationCodeSequence", "AuthorObserverSequence",
    "ParticipantSequence", "VerifyingObserverName", "VerifyingObserverSequence",
    "VerifyingOrganization", "ReviewerName", "InterpretationAuthor", "InterpretationRecorder",
    "InterpretationTranscriber", "PhysicianApprovingInterpretation",
    "InterpretationApproverSequence", "DistributionName", "DistributionAddress",
    "NamesOfIntendedRecipientsOfResults", "IntendedRecipientsOfResultsIdentificationSequence",
    "ResultsDistributionListSequence", "ResponsiblePerson", "ResponsibleOrganization",
    "OrderEnteredBy", "OrderEntererLocation", "OrderCallbackPhoneNumber",
    "RequestingService", "SecondaryReviewerName", "EvaluatorName",
    # the institution and where the data was made
    "InstitutionName", "InstitutionAddress", "InstitutionCodeSequence",
    "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence",
    "StationName", "PerformedStationName", "PerformedStationNameCodeSequence",
    "PerformedStationGeographicLocationCodeSequence", "PerformedLocation",
    "ScheduledStationName", "ScheduledStationNameCodeSequence",
    "ScheduledStationGeographicLocationCodeSequence", "ScheduledProcedureStepLocation",
    "ScheduledStudyLocation", "ScheduledStudyLocationAETitle", "RequestedProcedureLocation",
    "CurrentPatientLocation", "PatientInstitutionResidence",
    "ScheduledPatientInstitutionResidence", "CustodialOrganizationSequence",
    # device identity
    "DeviceSerialNumber", "DeviceID", "DetectorID", "GantryID", "GeneratorID", "CassetteID",
    "PlateID", "ModifyingDeviceID", "SecondaryCaptureDeviceID", "SourceSerialNumber",
    "XRayDetectorID", "DeviceLabel", "DeviceDescription", "UniqueDeviceIdentifier",
    # free text that may name the patient, and the request's clinical story
    "AdditionalPatientHistory", "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence", "DischargeDiagnosisDescription",
    "ReasonForTheImagingServiceRequest", "ReasonForTheRequestedProcedure", "ReasonForStudy",
    "RequestedProcedureDescription", "RequestedProcedureComments",
    "RequestedContrastAgent", "ImagingServiceRequestComments", "StudyComments",
    "ImageComments", "FrameComments", "ImagePresentationComments", "IdentifyingComments",
    "AcquisitionComments", "AcquisitionDeviceProcessingDescription",
    "AcquisitionProtocolDescription", "CommentsOnThePerformedProcedureStep",
    "PerformedProcedureStepDescription", "ScheduledProcedureStepDescription",
    "DerivationDescription", "ModifiedImageDescription", "InterpretationText",
    "InterpretationDiagnosisDescription", "Impressions", "ResultsComments", "TextComments",
    "TextString", "VisitComments", "TopicTitle", "TopicSubject",
    "TopicAuthor", "TopicKeywords", "ProtocolContextSequence", "ContentSequence",
    "GraphicAnnotationSequence", "MedicalAlerts", "Allergies", "PreMedication",
    "PregnancyStatus", "LastMenstrualDate", "SmokingStatus", "SpecialNeeds",
    "PatientState", "Occupation", "MilitaryRank", "BranchOfService", "EthnicGroup",
    "CountryOfResidence", "RegionOfResidence", "PatientReligiousPreference",
    "PatientSize", "PatientWeight", "PatientComments", "PatientTransportArrangements",
    "InsurancePlanIdentification", "PatientInsurancePlanCodeSequence",
    "PatientPrimaryLanguageCodeSequence", "TimezoneOffsetFromUTC",
    # sequences that hold references to the patient's other records, or the originals
    "ReferencedPatientSequence", "ReferencedPatientAliasSequence",
    "ReferencedStudySequence", "ReferencedPerformedProcedureStepSequence",
    "RequestAttributesSequence", "ModifiedAttributesSequence", "OriginalAttributesSequence",
    "DigitalSignaturesSequence", "ReferencedDigitalSignatureSequence",
    "ReferencedSOPInstanceMACSequence", "MACParametersSequence",
    "EncryptedAttributesSequence", "AcquisitionContextSequence",
})


def is_phi(group: int, keyword: str, vr: str) -> bool:
    """Whether an attribute identifies the patient (see the module docstring for the rule).

    Parameters
    ----------
    group
        The tag's group number.
    keyword
        The DICOM keyword ("" for private or unknown attributes).
    vr
        The value representation ("" when unknown).

    Returns
    -------
    bool
        ``True`` when the value must be masked until the user reveals patient data.
    """
    if group % 2 == 1:
        return True
    if group in PHI_GROUPS or keyword in PHI_KEYWORDS:
        return True
    if vr in PHI_VRS:
        return True
    return vr == "UI" and keyword not in SAFE_UIDS
