define a = Character("Aiko", color="#ffaaaa")
define k = Character(_("Kenji"))
define n = Character(None, kind=nvl)

label start:
    scene bg garden night
    with fade
    "Crickets fill the silence."
    a happy "You found the lantern!"
    k "It was under the bench, like you said \"it would be\"."
    menu:
        "Light it.":
            jump lit
        "Leave it dark.":
            jump dark

label lit:
    $ lantern = True
    a "{i}Beautiful.{/i}"
    extend " Thank you."
    return

label dark:
    n "The garden stays dark."
    return
