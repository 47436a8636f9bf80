"""The failure-review study's default questions (paper section 9, Figures 10 and 11).

Q1 describes the cluster of images, Q2 judges the feature (where it sits: main object,
separate object, background; and necessary or spurious), Q3 lists action items; a survey
of six statements ends the session. Edit ``study.yaml`` to change any of them.
"""

from __future__ import annotations

from study.study_file import HitSettings, Question, Statement

JUDGEMENT = "judgement"
# Answers of the judgement question that make a failure mode core or spurious.
CORE_ANSWERS = ("main_object",)
SPURIOUS_ANSWERS = ("separate_object", "background")
AGREE_SCALE = {1: "Strongly disagree", 2: "Disagree", 3: "Neutral", 4: "Agree", 5: "Strongly agree"}

INSTRUCTIONS = (
    "An image classifier makes mistakes on some images of a class. A failure tree splits the "
    "images of the class by visual features the model learned, and one branch (the failure mode) "
    "holds many of the mistakes. Below you see the tree, the rule that defines the failure mode "
    "and its error rate, the features of the rule (A: images where the feature is strongest, "
    "B: where in them it responds, C: images changed to make the feature stronger) and a sample "
    "of the failures beside a sample of correctly classified images. Compare them, then tell us "
    "what the failures have in common and whether the model relies on the object itself or on "
    "something that merely comes with it."
)


def default_questions() -> list[Question]:
    return [
        Question(
            id="description",
            type="text",
            prompt="Describe the cluster of images this failure mode defines: what do the failures have in common that the correct images lack?",
            help="One or two sentences, e.g. 'the dog is photographed on grass' or 'only the face is visible'.",
            min_length=10,
            max_length=500,
        ),
        Question(
            id=JUDGEMENT,
            type="choice",
            prompt="Where is what the feature detects?",
            help="Part of the main object means the feature is core to the class; a separate object or the background means the model relies on a spurious correlation.",
            options=["main_object", "separate_object", "background", "cant_tell"],
            option_labels={
                "main_object": "Part of the main object",
                "separate_object": "A separate object",
                "background": "The background",
                "cant_tell": "Can't tell",
            },
        ),
        Question(
            id="necessity",
            type="choice",
            prompt="Is the feature necessary to recognise the class, or a spurious correlation?",
            required=False,
            options=["necessary", "necessary_not_sufficient", "spurious", "cant_tell"],
            option_labels={
                "necessary": "Necessary",
                "necessary_not_sufficient": "Necessary but not sufficient",
                "spurious": "Spurious correlation",
                "cant_tell": "Can't tell",
            },
        ),
        Question(
            id="confidence",
            type="likert",
            prompt="How confident are you in your judgement?",
            scale_labels={1: "Not confident", 5: "Very confident"},
        ),
        Question(
            id="reason",
            type="text",
            prompt="What in the images made you decide? (optional)",
            required=False,
            max_length=500,
        ),
        Question(
            id="actions",
            type="multi",
            prompt="Which action items would you take to mitigate these errors? Tick all that apply.",
            options=["data_collection", "data_augmentation", "relabel", "architecture", "training", "remove_correlation", "no_action"],
            option_labels={
                "data_collection": "Collect more or more diverse data",
                "data_augmentation": "Augment the training data",
                "relabel": "Check and fix the labels",
                "architecture": "Change the model architecture or capacity",
                "training": "Change the training objective or loss",
                "remove_correlation": "Remove or balance the spurious correlation",
                "no_action": "No action needed",
                "other": "Other:",
            },
            other=True,
        ),
        Question(
            id="survey",
            type="survey",
            prompt="Before you go: how much do you agree with these statements about the workflow?",
            help="Asked only once: answer for the HITs of this study as a whole.",
            scale_labels=dict(AGREE_SCALE),
            statements=[
                Statement("understand", "The failure trees helped me understand where the model fails."),
                Statement("important", "The failure modes shown are important to fix."),
                Statement("features", "The feature visualizations were easy to interpret."),
                Statement("actions", "The explanations gave me ideas for action items."),
                Statement("debug", "I would use this workflow to debug my own models."),
                Statement("explainable", "Such an analysis should be done before deploying a model."),
            ],
        ),
    ]


def default_settings() -> HitSettings:
    return HitSettings(
        title="Review where an image classifier fails",
        description=(
            "Look at a failure mode of an image classifier (a failure tree, its features and sample "
            "images), describe it and judge whether the model relies on the object or on its surroundings."
        ),
        keywords=["image", "classifier", "errors", "review", "spurious correlation"],
        reward="1.00",  # a review takes longer than describing one feature
    )
