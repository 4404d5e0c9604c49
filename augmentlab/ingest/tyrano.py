"""TyranoScript scenarios (``data/scenario/*.ks``): KAG's syntax (read by :mod:`.kag`) with
TyranoScript's own tags.

``#akane`` names the speaker; ``[chara_new name="akane" jname="あかね"]`` says that ``akane`` is
shown as ``あかね``, so ``#akane`` and ``#あかね`` are one character. ``#`` alone is narration
again, and ``#?`` (or ``#???``) is someone the player does not know yet: the line is kept with no
speaker and ``Line.metadata["shown_as"]``, unless ``--alias ?=Name`` names them.
``[glink text="…"]`` is a choice; ``[iscript]…[endscript]``, ``[html]…[endhtml]`` and
``[macro]…[endmacro]`` are code. Everything else is as in :mod:`.kag`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from augmentlab.ingest.kag import KAG_TAGS, Dialect, read
from augmentlab.ingest.segment import Event, ParseState

TYRANO_TAGS = KAG_TAGS | frozenset(
    """bg bg2 chara_new chara_show chara_hide chara_hide_all chara_mod chara_face chara_config
    chara_delete chara_move chara_part chara_part_reset chara_layer chara_layer_mod chara_ptext
    glink_config clearfix start_keyconfig stop_keyconfig showmenubutton hidemenubutton anim kanim
    stopanim keyframe endkeyframe frame xanim stop_xanim mask mask_off camera reset_camera clickable
    html endhtml cursor dialog loadjs web movie bgmovie stop_bgmovie wait_bgmovie layermode
    layermode_movie free_layermode filter free_filter free freeimage playbgm stopbgm playse stopse
    fadeinbgm fadeoutbgm fadeinse fadeoutse xchgbgm bgmopt seopt changevol wbgm wse pausebgm
    resumebgm voconfig vostart vostop speak_on speak_off text mtext preload resetdelay configdelay
    nolog endnolog pushlog showlog sleepgame awakegame breakgame skipstart skipstop autostart
    autostop autoconfig cancelskip trace savesnap autosave autoload showsave showload showmenu
    plugin loadcss position_filter vibrate vibrate_stop quake2 mark endmark dialog_config
    set_resizecall close_confirm apply_local_patch check_web_patch body sysview save_img
    wait_cancel wa wm wt wq wb wl ws wv 3d_init 3d_model_new 3d_show 3d_hide tb_start_text
    tb_end_text tb_show_message_window tb_hide_message_window tb_image_show tb_image_hide
    tb_start_tyrano_code tb_end_tyrano_code tb_eval tb_cm tb_ptext_show tb_ptext_hide
    tb_keyframe_clear tb_chara_show tb_chara_hide""".split()
)
"""TyranoScript's tag reference (core, character, audio, system; TyranoBuilder's ``tb_``)."""

TYRANO = Dialect(
    "tyrano",
    TYRANO_TAGS,
    blocks={"iscript": "endscript", "html": "endhtml", "macro": "endmacro"},
    choice_tags=frozenset({"glink"}),
    kagex_cues=False,
)


def parse(source: Iterable[tuple[int, str]], state: ParseState) -> Iterator[Event]:
    """Yield scene events and lines from a TyranoScript scenario."""
    return read(source, state, TYRANO)


ACCOUNTS_LINES = True
"""This module reports every line it reads into the ledger (:mod:`augmentlab.ingest.accounting`)."""
