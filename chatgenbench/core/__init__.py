"""The shared ground every stage stands on; it imports nothing else of the package.

- ``errors``: the exceptions, each with a ``how_to_fix``;
- ``registry``: a name -> implementation table with lazy ``"module:attr"`` entries and "did you mean";
- ``storage``: where files live (``$CHATGENBENCH_HOME``), atomic writes, digests;
- ``normalize``: how names and texts are compared (model names, sampler names, prompts);
- ``provenance``: how a result says it was made (versions, machine, inputs);
- ``random_weights``: how a result says that RANDOM demo weights made its images;
- ``library_output``: what the libraries we call may print (off unless ``--verbose``);
- ``version``: the package's version.
"""
