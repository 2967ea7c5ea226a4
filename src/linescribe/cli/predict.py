"""``linescribe predict``."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from linescribe.cli.options import (
    batch_size_option,
    chosen_decoding,
    decoding_options,
    load_reader,
    model_option,
    reading_options,
    split_model_argument,
)
from linescribe.data.images import IMAGE_SUFFIXES
from linescribe.files import file_identity, files_by_identity, refuse_writing_over
from linescribe.inference import Prediction, Recognizer
from linescribe.large_jobs import ModelSpec

if TYPE_CHECKING:
    from linescribe.layout import PageResult

TSV_HEADER = "file\ttext\tconfidence\n"
PAGES_PER_CHUNK = 4
"""Page images per cluster task: a page takes about as long as a chunk of line images."""


MANIFEST_SUFFIXES = (".tsv", ".csv", ".txt", ".lst")
"""Files given as inputs that list images instead of being one (``data.readers.manifest.image_paths``)."""


def expand_inputs(items: tuple[str, ...], exclude: Path | None = None) -> tuple[list[str], list[str], list[str]]:
    """Images, PAGE/ALTO files (documents), and the problems met: files as given (an ``.xml``
    file is a document; a ``.tsv``, ``.csv``, ``.txt`` or ``.lst`` file named as an input, not
    matched by a glob, is a manifest whose image column, or first column, lists images relative
    to it), globs expanded (also when quoted) to the images, ``.xml`` files and folders they
    match (a glob that matches nothing is kept, to be reported when read as a missing file is),
    folders searched recursively for documents (their root element says PAGE or ALTO; other XML
    is left out, and an .xml file that cannot be read as XML beside them is a problem) or, when
    they hold none, for images (a folder of documents warns about the images named after none of
    its .xml files, left out), symbolic links to folders followed. Each file once, however often
    it was named. ``exclude``: the output folder, never searched, so that a rerun does not read
    its outputs."""
    from linescribe.data.readers.manifest import image_paths

    images: list[str] = []
    documents: list[str] = []
    problems: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            _search_folder(path, exclude, images, documents, problems)
            continue
        if item.lower().endswith(MANIFEST_SUFFIXES) and path.is_file():  # named itself, never by a glob
            images += image_paths(path)
            continue
        if not any(c in item for c in "*?[") or path.exists():  # a file, or a missing one
            (documents if item.lower().endswith(".xml") else images).append(item)
            continue
        matched_images: list[str] = []
        matched_documents: list[str] = []
        matched_problems: list[str] = []
        for match in sorted(glob.glob(item, recursive=True)) or [item]:  # no match: reported as a missing file is
            if _inside(Path(match), exclude):
                continue
            if os.path.isdir(match):
                _search_folder(Path(match), exclude, matched_images, matched_documents, matched_problems)
            elif match.lower().endswith(".xml"):
                matched_documents.append(match)
            elif match.lower().endswith(IMAGE_SUFFIXES) or match == item:
                matched_images.append(match)
        if not (matched_images or matched_documents or matched_problems):
            matched_images.append(item)  # it matched no image or PAGE/ALTO file: reported as a missing file is
        images += matched_images
        documents += matched_documents
        problems += matched_problems
    return _once_each(images), _once_each(documents), list(dict.fromkeys(problems))


def _once_each(paths: list[str]) -> list[str]:
    """The paths without repeats, first spelling kept: a file named twice (by two globs, a folder
    and a glob in it, ``a.png`` and ``./a.png``) would be read and recorded twice."""
    kept: dict[str, str] = {}
    for path in paths:
        kept.setdefault(os.path.abspath(path), path)
    return list(kept.values())


def _search_folder(
    folder: Path, exclude: Path | None, images: list[str], documents: list[str], problems: list[str]
) -> None:
    """Add a folder's documents (and the .xml files beside them that cannot be read, as
    problems) or, when it holds none, its images, searched recursively, outside ``exclude``.

    A folder of documents holds their page images, and often thumbnails, copies or an OCR-D
    workspace's binarised versions of them; the images not named after any .xml file are left out
    with a warning, since a user who named the folder may believe all of it was read."""
    from linescribe.data.readers._common import walk
    from linescribe.layout import find_documents

    found, unreadable = find_documents(folder, exclude)
    files = []
    for root, subfolders, names in walk(folder):  # into symbolically linked folders too, each once
        if _inside(Path(root), exclude):
            subfolders[:] = []
            continue
        subfolders[:] = sorted(name for name in subfolders if not _inside(Path(root, name), exclude))
        files += [
            Path(root, name) for name in names
            if Path(name).suffix.lower() in (*IMAGE_SUFFIXES, ".xml") and Path(root, name).is_file()
        ]
    inside = sorted(str(p) for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        images += inside
        return
    named = {p.name.split(".")[0].lower() for p in files if p.suffix.lower() == ".xml"}
    others = [image for image in inside if Path(image).name.split(".")[0].lower() not in named]
    if others:
        click.echo(
            f"linescribe: warning: {folder}: reading its {len(found)} PAGE/ALTO files; {len(others)} images named after none "
            f"of them (such as {others[0]}) are left out: give them as their own inputs to read them as lines",
            err=True,
        )
    documents += found
    problems += unreadable


def _images_in_output_folder(output_dir: Path | None, items: Iterable[str]) -> int:
    """How many images (not overlays written there) an output folder inside a searched input
    folder holds: they are left out of the search, which a user may not expect."""
    searched = any(os.path.isdir(item) and _inside(output_dir, Path(item)) for item in items) if output_dir else False
    if output_dir is None or not searched or not output_dir.is_dir():
        return 0
    from linescribe.data.readers._common import walk
    from linescribe.layout.outputs import OVERLAY_SUFFIX

    return sum(
        name.lower().endswith(IMAGE_SUFFIXES) and not name.endswith(OVERLAY_SUFFIX)
        for _, _, names in walk(output_dir)
        for name in names
    )


def _inside(path: Path, folder: Path | None) -> bool:
    """Whether the path lies in the folder (symbolic links followed)."""
    return folder is not None and Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def input_base(items: Iterable[str]) -> str:
    """The folder the inputs were named from, which an --output-dir mirrors: a folder named, a
    glob's fixed start, a file's folder. It depends on the command, not on the files found, so a
    rerun after new subfolders appear writes where the first run did."""
    roots = []
    for item in items:
        if os.path.isdir(item):
            roots.append(item)
            continue
        if os.path.exists(item):  # a file, even one whose name holds glob characters (scans[1]/a.png)
            roots.append(os.path.dirname(item) or ".")
            continue
        parts = Path(item).parts
        fixed = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), None)
        if fixed is None:  # a missing file
            roots.append(os.path.dirname(item) or ".")
        else:
            roots.append(os.path.join(*parts[:fixed]) if fixed else ".")
    return os.path.commonpath([os.path.abspath(root) for root in roots])


def _refuse_writing_over_inputs(output: Path, paths: Iterable[str]) -> None:
    """Refuse an -o file that is one of the inputs (an image, a manifest; by any name): writing
    the results over it would lose it. Only a name an input can have is looked for (a rerun of a
    million-image job into results.jsonl stats none)."""
    if not output.name.lower().endswith((*IMAGE_SUFFIXES, *MANIFEST_SUFFIXES)):
        return
    refuse_writing_over(output, paths, "-o")


def _echo(text: str) -> None:
    """Print output text on stdout as an output file gets it (``text_bytes``): a file name that
    is not UTF-8 keeps its bytes instead of stopping the output with an encoding error."""
    from linescribe.files import text_bytes

    click.echo(text_bytes(text), nl=False)


def _rows(predictions: list[Prediction], output_format: str, single: bool, relative_to: Path | None = None) -> str:
    """Text or TSV rows (no header) for the readable predictions; TSV as the manifest reader
    reads it back, so that corrected predictions can be trained on: its paths relative to the
    folder of the file it goes to (``relative_to``), as the reader resolves them."""
    from linescribe.data.readers.manifest import tsv_line

    readable = [p for p in predictions if p.ok]
    if output_format == "tsv":
        def name(source: str) -> str:
            return source if relative_to is None else os.path.relpath(os.path.abspath(source), os.path.abspath(relative_to))

        return "".join(tsv_line([name(p.source), p.text, f"{p.confidence:.4f}"], texts=(1,)) for p in readable)
    if single:
        return "".join(f"{p.text}\n" for p in readable)
    return "".join(f"{p.source}\t{p.text}\n" for p in readable)


def _model_spec(model: str | None, backend: str, threads: int | None, jobs: int | None, options: dict[str, Any]) -> ModelSpec:
    """How the worker processes (``jobs`` of them on this machine; None: a cluster's, each
    reading with 1 thread per Dask worker thread unless ``threads`` says otherwise) load the
    model. Loading it here first makes a model the workers would export to ONNX be exported
    once, into the cache they then read, and reports a bad model before any worker starts; the
    workers get the backend it chose (PyTorch after an export that failed its check, so they do
    not try again)."""
    from linescribe.modelfile import open_model, resolve_model_path
    from linescribe.modelfile.onnx_runtime import available_cores

    threads = threads or (1 if jobs is None else max(1, available_cores() // jobs))
    path = resolve_model_path(model)
    return ModelSpec(str(path), open_model(path, backend, threads).backend, threads, {**options, "decode_threads": threads})


def _emit_pages(pages: list[tuple[str, PageResult]], output_format: str, output: Path | None, documents: bool) -> None:
    """The pages' text (``== FILE`` before each when there are several) or JSON, on stdout or
    into ``output``, or one page image's PAGE or ALTO XML into ``output`` (nothing when it could
    not be read); a document's JSON also names its XML file."""
    from linescribe.files import json_text, text_bytes, write_atomically
    from linescribe.layout import FORMATS, to_json, to_text

    if output_format in ("page", "alto"):
        if pages and output:
            write_atomically(output, FORMATS[output_format][1](pages[0][1]))
        return
    if output_format == "json":
        records = [{"document": name, **to_json(page)} if documents else to_json(page) for name, page in pages]
        text = json_text(records, indent=2) + "\n"
    elif len(pages) == 1:
        text = to_text(pages[0][1]).rstrip("\n") + "\n"
    else:
        text = "".join(f"== {name}\n{to_text(page).rstrip(chr(10))}\n" for name, page in pages)
    if output:
        write_atomically(output, text_bytes(text))
    else:
        _echo(text)


def _predict_pages(recognizer: Recognizer, paths: list[str], output_format: str, output: Path | None, progress: bool | None) -> None:
    """``--layout page`` to stdout or one ``-o`` file: find, order and read the lines of each
    image; one bad image is reported and the others are read (exit status 1)."""
    from linescribe.large_jobs import page_error
    from linescribe.layout import read_page

    pages, failures = [], 0
    with _progress_bar(len(paths), 0, progress) as bar:
        for path in _counted(bar, paths):
            try:
                pages.append((path, read_page(recognizer, path)))
            except Exception as error:
                failures += 1
                bar.write(f"linescribe: error: {page_error(path, error)}", file=sys.stderr)
    _emit_pages(pages, output_format, output, documents=False)
    if failures:
        click.echo(f"linescribe: {failures} of {len(paths)} images unreadable", err=True)
    _exit_after_failures(failures, len(paths))


def _document_targets(
    paths: list[str], output: Path | None, output_dir: Path | None, in_place: bool, base: str
) -> dict[str, Path]:
    """Where each PAGE/ALTO file's filled-in copy goes: ``--output-dir`` (same name relative to ``base``),
    ``-o FILE.xml`` (one file), ``--in-place`` (the file itself), or nowhere (text or JSON is
    written instead). Writing over any input (the same file, by any name) without
    ``--in-place`` is refused."""
    from linescribe.large_jobs import mirrored_paths

    if in_place:
        return {path: Path(path) for path in paths}
    if output_dir:
        targets = mirrored_paths(output_dir, paths, base=base)
    elif output is not None and output.suffix.lower() == ".xml":
        if len(paths) > 1:
            raise click.UsageError(f"-o {output} takes one PAGE/ALTO file; for {len(paths)} give --output-dir (or --in-place)")
        targets = {paths[0]: output}
    else:
        return {}
    inputs = files_by_identity(paths)
    for target in targets.values():
        same = inputs.get(identity) if (identity := file_identity(target)) is not None else None
        if same is not None:
            raise click.UsageError(f"{target} is the input {same}: write elsewhere, or give --in-place to rewrite it")
    return targets


def _check_target_folders(targets: dict[str, Path], in_place: bool) -> None:
    """Refuse now, before the model is loaded and the files read, a folder the XML files cannot
    be written in (in place: the folder of the file a symbolic link names)."""
    from linescribe.files import check_writable

    folders = {Path(os.path.realpath(target)).parent if in_place else target.parent for target in targets.values()}
    for folder in sorted(folders):
        check_writable(folder, folder=True)


def _predict_documents(
    recognizer: Recognizer,
    paths: list[str],
    output_format: str,
    output: Path | None,
    targets: dict[str, Path],
    in_place: bool,
    unreadable: list[str],
    progress: bool | None,
) -> None:
    """PAGE/ALTO files: read the lines they outline and write the text into a copy of each (or
    the file itself, ``in_place``) in ``targets``, or else print (or write to ``output``) their
    text or JSON. A line or file that cannot be read or written, and each of the ``unreadable``
    XML files met, is reported in one line and the rest is done (exit status 1). A file none of
    whose lines could be read is not written; a file without lines is copied, not rewritten."""
    from linescribe.errors import LinescribeError
    from linescribe.files import rewrite_atomically, write_atomically
    from linescribe.layout import read_document

    for problem in unreadable:
        click.echo(f"linescribe: error: {problem}", err=True)
    pages, failed = [], len(unreadable)
    bar = _progress_bar(len(paths), 0, progress)

    def report(message: object) -> None:
        bar.write(f"linescribe: error: {message}", file=sys.stderr)

    for path in _counted(bar, paths):
        try:
            reading = read_document(recognizer, path)
        except LinescribeError as error:
            failed += 1
            report(error)
            continue
        for problem in reading.problems:
            report(problem)
        complete = not reading.problems
        target = targets.get(path)
        if target is not None and (reading.page.lines or (complete and not in_place)):
            try:
                (rewrite_atomically if in_place else write_atomically)(target, reading.to_xml())
            except LinescribeError as error:
                complete = False
                report(error)
            except OSError as error:
                complete = False
                report(f"{target}: not written ({error.strerror or error})")
        failed += not complete
        if reading.page.lines or not reading.problems:
            pages.append((path, reading.page))
    bar.close()
    if not targets:
        _emit_pages(pages, output_format, output, documents=True)
    if failed:
        click.echo(f"linescribe: {failed} of {len(paths) + len(unreadable)} files not read in full or not written", err=True)
        sys.exit(1)


OUTPUT_SUFFIXES = {".json": "json", ".tsv": "tsv"}
"""The format an ``-o`` file's name asks for (``.jsonl`` files get JSON records, resumably)."""


def _output_format(chosen: str | None, output: Path | None, layout: str, documents: bool) -> str | None:
    """The format of ``-o``: the one its name asks for (.json, .tsv; for a page image,
    .page.xml or .alto.xml), else ``chosen`` (-f). A name asking for another format than -f, and
    XML that would not be written (line images, a page's .xml that is neither), are refused."""
    if output is None:
        return chosen
    suffix, name = output.suffix.lower(), output.name.lower()
    if suffix == ".xml" and documents:
        return chosen  # the document written back
    if suffix == ".xml" and layout == "line":
        raise click.UsageError(f"-o {output}: line images give text, json or tsv; XML is written for --layout page and PAGE/ALTO inputs")
    if suffix == ".xml":
        named = next((fmt for fmt in ("page", "alto") if name.endswith(f".{fmt}.xml")), None)
        if named is None:
            raise click.UsageError(f"-o {output}: name the file .page.xml or .alto.xml to get PAGE or ALTO XML")
    else:
        named = OUTPUT_SUFFIXES.get(suffix)
    if named == "tsv" and (layout == "page" or documents):
        raise click.UsageError(f"-o {output}: a .tsv name asks for TSV, which only line images give; name it .txt or .json")
    if named and chosen and chosen != named:
        raise click.UsageError(f"-o {output} gets {named}: leave out --format {chosen}, or write to another file")
    return named or chosen


def _check_document_options(output_format: str | None, jsonl: bool, layout: str, formats: str | None, jobs: int) -> None:
    """Refuse the options that PAGE/ALTO inputs would otherwise ignore."""
    if layout == "page":
        raise click.UsageError("PAGE/ALTO files bring their own lines: leave out --layout page")
    if formats:
        raise click.UsageError("--formats is for --layout page images; PAGE/ALTO files are written back in their own format")
    if jsonl or output_format == "tsv":
        raise click.UsageError("PAGE/ALTO files give text or json (-f), or XML files (--output-dir, -o FILE.xml, --in-place)")
    if jobs > 1:
        raise click.UsageError("--jobs is for line images; PAGE/ALTO files are read in one process")


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="[MODEL] IMAGES_OR_XML...")
@model_option
@click.option("-f", "--format", "output_format", type=click.Choice(["text", "json", "tsv"]),
              help="Output format (default: what the --output file's name says, .json or .tsv; else text).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the results here instead of stdout, in the format its name says (.json, .tsv) unless --format "
              "does. A .jsonl file gets one JSON record per image as they are read, and a rerun skips the images it holds "
              "(resumable); other files are written atomically at the end. For one PAGE/ALTO file, a .xml FILE gets the "
              "file with its text filled in; for one --layout page image, a .page.xml or .alto.xml FILE its PAGE or ALTO XML.")
@click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write one .txt per image in this folder as they are read; a rerun skips images whose .txt exists. "
              "PAGE/ALTO files: a copy of each with its text filled in, under its own name.")
@batch_size_option()
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes, each with its own copy of the model and a share of the cores.")
@click.option("--cluster", metavar="ADDRESS",
              help="Read on a Dask cluster: its scheduler's address (tcp://host:8786) or scheduler file (.json). Each "
              "worker loads the model once and reads chunks of images by path (a file system all workers see); results "
              "go to a resumable -o FILE.jsonl or --output-dir. Needs linescribe[cluster].")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--layout", type=click.Choice(["line", "page"]), default="line", show_default=True,
              help="line: each image is one text line; page: each image is a page or paragraph whose lines are found, "
              "ordered and read.")
@click.option("--formats",
              help="Page layout with --output-dir: files to write per image, comma-separated: text (the default), json, "
              "page (PAGE XML), alto (ALTO XML), overlay (PNG of the found lines).")
@click.option("--in-place", is_flag=True,
              help="PAGE/ALTO inputs: write the recognised text into the files themselves (each replaced atomically, "
              "through symbolic links, keeping its permissions; read-only files are refused).")
@reading_options
@decoding_options
def predict(
    inputs: tuple[str, ...],
    model: str | None,
    output_format: str | None,
    output: Path | None,
    output_dir: Path | None,
    batch_size: int,
    jobs: int,
    cluster: str | None,
    progress: bool | None,
    layout: str,
    formats: str | None,
    in_place: bool,
    backend: str,
    threads: int,
    **decoding: Any,
) -> None:
    """Read the text of line IMAGES (files, folders, globs) with MODEL (a .safetensors or .onnx
    file, a run folder or a bundled model's name; default: the bundled default model).

    PAGE or ALTO XML files (or folders of them) instead have the lines they outline read and
    their text written into them: --output-dir OUT writes OUT/<same name>.xml, -o FILE.xml one
    file, --in-place the files themselves; without these the text is printed (or JSON, -f json).

    JSON output gives per-character and per-word confidences, each character's pixel columns
    and, for beam decoders, the n-best alternatives with their share of the beam's probability.
    An unreadable image or line is reported and the others are read (exit status 1).

    A .jsonl -o file or an --output-dir is resumable: results are written as images are read,
    and the same command run again reads only the images they lack (with --layout page, an
    image is done when each of its --formats files exists)."""
    from linescribe.files import check_writable

    model, items = split_model_argument(inputs, model, "images")
    paths, documents, unreadable = expand_inputs(tuple(items), output_dir)
    left_out = _images_in_output_folder(output_dir, items)
    if not paths and not documents:
        beside = f" outside the output folder {output_dir}, which is never read" if left_out else ""
        raise click.UsageError("no images or PAGE/ALTO files found in " + " ".join(items) + beside)
    if left_out:
        click.echo(
            f"linescribe: warning: {output_dir}: {left_out} images inside the output folder are left out (outputs are never "
            "read as inputs): give another --output-dir to read them",
            err=True,
        )
    if paths and documents:
        raise click.UsageError(f"give images or PAGE/ALTO files, not both (found {len(paths)} images and {len(documents)} XML files)")
    jsonl = output is not None and output.suffix.lower() == ".jsonl"
    if output and output_dir:
        raise click.UsageError("give --output or --output-dir, not both")
    output_format = _output_format(output_format, output, layout, bool(documents))
    if output_format in ("page", "alto") and len(paths) > 1:
        raise click.UsageError(f"-o {output} holds one page; for {len(paths)} images give --output-dir and --formats {output_format}")
    if in_place and (output or output_dir):
        raise click.UsageError("--in-place writes the files themselves: leave out --output and --output-dir")
    if documents:
        _check_document_options(output_format, jsonl, layout, formats, jobs)
    elif in_place:
        raise click.UsageError("--in-place rewrites PAGE/ALTO files; give some")
    elif jsonl and output_format not in (None, "json"):
        raise click.UsageError(f"{output} gets JSON records: leave out --format {output_format}, or write to another file")
    elif output_dir and layout == "line" and output_format not in (None, "text"):
        raise click.UsageError(f"--output-dir writes one .txt per image: leave out --format {output_format}, or use --output")
    elif output_dir and output_format not in (None, "text"):
        raise click.UsageError(
            f"--output-dir writes the files --formats names for each page (text by default; json, page, alto, overlay): "
            f"leave out --format {output_format}"
        )
    if layout == "page" and output_format == "tsv":
        raise click.UsageError("--layout page writes text or json to stdout or -o FILE, or with --output-dir the files --formats names")
    if layout == "page" and jobs > 1:
        raise click.UsageError("--jobs reads line images; --layout page reads in one process (or on a cluster: --cluster)")
    if cluster and not (jsonl or output_dir):
        raise click.UsageError("--cluster writes resumable results: give -o FILE.jsonl or --output-dir")
    if cluster and (documents or jobs > 1):
        raise click.UsageError("--cluster reads line or page images, with the cluster's workers instead of --jobs")
    if output:
        if not documents:
            _refuse_writing_over_inputs(output, [*items, *paths])
        check_writable(output)  # now, not after reading every image
    elif output_dir:
        check_writable(output_dir, folder=True)
    options = {"batch_size": batch_size, "decoding": chosen_decoding(**decoding)}
    if documents:
        targets = _document_targets(documents, output, output_dir, in_place, input_base(items))
        if targets and output_format:
            raise click.UsageError(f"the PAGE/ALTO files are written back as XML: leave out --format {output_format}")
        _check_target_folders(targets, in_place)
        recognizer = load_reader(model, backend, threads, **options)
        _predict_documents(recognizer, documents, output_format or "text", output, targets, in_place, unreadable, progress)
        return
    output_format = output_format or "text"
    page_formats = _page_formats(formats, layout, output_dir is not None)
    reader = partial(load_reader, model, backend, threads, **options)
    spec = partial(_model_spec, model, backend, threads or None, options=options)
    if jsonl or output_dir:
        _predict_resumable(paths, output if jsonl else None, output_dir, page_formats, cluster, jobs, progress, reader, spec,
                           4 * batch_size, input_base(items))
    elif layout == "page":
        _predict_pages(reader(), paths, output_format, output, progress)
    else:
        _predict_lines(paths, output_format, output, jobs, progress, reader, spec, 4 * batch_size)


def _page_formats(formats: str | None, layout: str, to_folder: bool) -> tuple[str, ...] | None:
    """The files to write per page image into an --output-dir (None for line images; none for
    other outputs, which hold the page themselves), checked before any image is read."""
    from linescribe.layout.outputs import PAGE_FORMATS

    if formats and not (layout == "page" and to_folder):
        raise click.UsageError("--formats is for --layout page with --output-dir")
    if layout == "line":
        return None
    chosen = tuple(name.strip() for name in (formats or "text").split(",") if name.strip()) if to_folder else ()
    valid = ", ".join(PAGE_FORMATS)
    if to_folder and not chosen:
        raise click.UsageError(f"--formats {formats!r} names no format ({valid})")
    unknown = [name for name in chosen if name not in PAGE_FORMATS]
    if unknown:
        raise click.UsageError(f"unknown --formats {unknown[0]!r} (valid: {valid})")
    return chosen


def _counted(bar: Any, items: list[str]) -> Iterator[str]:
    """The items, the progress bar counting each once the loop is done with it."""
    for item in items:
        yield item
        bar.update(1)


def _exit_after_failures(failures: int, total: int) -> None:
    """Exit status 1 when some inputs were read and others not, 2 (an input error) when none was."""
    if failures:
        sys.exit(2 if failures >= total else 1)


def _progress_bar(total: int, done: int, progress: bool | None):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="image", disable=not (sys.stderr.isatty() if progress is None else progress))


def _predict_resumable(
    paths: list[str],
    jsonl: Path | None,
    output_dir: Path | None,
    page_formats: tuple[str, ...] | None,
    cluster: str | None,
    jobs: int,
    progress: bool | None,
    reader: Callable[[], Recognizer],
    spec: Callable[[int | None], ModelSpec],
    chunk_size: int,
    base: str,
) -> None:
    """Read into a resumable output (``jsonl`` or ``output_dir``, whose files mirror the inputs'
    paths relative to ``base``), skipping the images it already holds: on this machine (``jobs``
    processes for line images) or on a Dask cluster."""
    from linescribe.errors import LinescribeError
    from linescribe.large_jobs import (
        JsonlResults,
        PageFolderResults,
        TextFolderResults,
        read_in_processes,
        read_page_outcomes,
    )

    if jsonl:
        results: Any = JsonlResults(jsonl)
    elif page_formats is None:
        results = TextFolderResults(output_dir, paths, base)
    else:
        results = PageFolderResults(output_dir, paths, page_formats, base)
    todo = [path for path in paths if path not in results.done]
    failures = unwritten = 0
    client = None
    bar = _progress_bar(len(paths), len(paths) - len(todo), progress)
    try:
        chunks: Iterable[list[Any]] = ()
        if todo and cluster:
            try:
                from linescribe.cluster import connect, read_on_cluster
            except ModuleNotFoundError as error:
                raise LinescribeError(f"--cluster needs Dask ({error.name} is not installed): pip install 'linescribe[cluster]'") from None
            client = connect(cluster)
            size = chunk_size if page_formats is None else PAGES_PER_CHUNK
            chunks = read_on_cluster(client, spec(None), todo, size, page_formats)
        elif todo and page_formats is not None:
            recognizer = reader()
            chunks = (read_page_outcomes(recognizer, [path], page_formats) for path in todo)
        elif todo and jobs > 1:
            chunks = read_in_processes(spec(jobs), todo, jobs, chunk_size)
        elif todo:
            chunks = reader().predict_windows(todo)
        for chunk in chunks:
            for failure in (outcome for outcome in chunk if not outcome.ok):
                failures += 1
                bar.write(f"linescribe: error: {failure.error}", file=sys.stderr)
            for error in results.write(chunk):
                unwritten += 1
                bar.write(f"linescribe: error: {error}", file=sys.stderr)
            bar.update(len(chunk))
    except KeyboardInterrupt:
        click.echo("linescribe: interrupted; the same command continues where this run stopped", err=True)
        sys.exit(130)
    finally:
        bar.close()
        results.close()
        if client is not None:
            getattr(chunks, "close", lambda: None)()  # cancels what the cluster still reads, then disconnect
            client.close()
    not_written = f", {unwritten} read but not written" if unwritten else ""
    click.echo(
        f"{jsonl or output_dir}: {len(paths)} images, {len(todo) - failures - unwritten} read now, {len(paths) - len(todo)} "
        f"read before, {failures} unreadable{not_written}",
        err=True,
    )
    _exit_after_failures(failures + unwritten, len(paths))


def _predict_lines(
    paths: list[str],
    output_format: str,
    output: Path | None,
    jobs: int,
    progress: bool | None,
    reader: Callable[[], Recognizer],
    spec: Callable[[int], ModelSpec],
    chunk_size: int,
) -> None:
    """Line images to stdout (as they are read) or to one ``-o`` file (written at the end)."""
    from linescribe.files import json_text, text_bytes, write_atomically
    from linescribe.large_jobs import json_record, read_in_processes

    single = len(paths) == 1 and output_format == "text"
    collected: list[Prediction] = []
    failures = 0
    bar = _progress_bar(len(paths), 0, progress)
    try:
        chunks = read_in_processes(spec(jobs), paths, jobs, chunk_size) if jobs > 1 else reader().predict_windows(paths)
        if output_format == "tsv" and not output:
            click.echo(TSV_HEADER, nl=False)
        for chunk in chunks:
            for failure in (p for p in chunk if not p.ok):
                failures += 1
                bar.write(f"linescribe: error: {failure.error}", file=sys.stderr)
            if output or output_format == "json":
                collected += chunk
            else:
                _echo(_rows(chunk, output_format, single))
            bar.update(len(chunk))
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        bar.close()
    if output_format == "json":
        text = json_text([json_record(p) for p in collected], indent=2) + "\n"
    else:
        text = (TSV_HEADER if output_format == "tsv" else "") + _rows(collected, output_format, single, output and output.parent)
    if output:
        write_atomically(output, text_bytes(text))
    elif output_format == "json":
        _echo(text)
    if failures:
        click.echo(f"linescribe: {failures} of {len(paths)} images unreadable", err=True)
    _exit_after_failures(failures, len(paths))
