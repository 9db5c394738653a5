
generalŠ	alice