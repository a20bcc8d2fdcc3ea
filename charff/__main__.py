from charff.cli import main

main()
