"""The scene's nodes of a class, without the collection ``vtkMRMLScene::GetNodesByClass`` returns: the
caller owns that one ("You are responsible for deleting the returned collection", vtkMRMLScene.h
v5.8.1 l. 317, main l. 318) and from Python it leaks, holding every node it lists (issue 14, item 7)."""


def nodes_of_class(scene, cls: str) -> list:
    return [scene.GetNthNodeByClass(i, cls) for i in range(scene.GetNumberOfNodesByClass(cls))]
